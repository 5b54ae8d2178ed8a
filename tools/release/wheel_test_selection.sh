# Which tests tools/release/test_wheels.sh runs under emulation (sourced). A forward pass costs
# seconds under qemu, a child interpreter a few more: every module contributes the tests that
# check its behaviour with few passes, NANODET_NCNN_EMULATED=1 makes them use fewer images, and
# the host run (.ci/run's pytest stage) keeps the full suite. Deselections are explicit: by
# marker (-m), by file (--ignore) or by node id, never by skip (conftest fails skips).

# Host-only everywhere, with the reason:
HOST_ONLY=(
    # torch + pnnx + onnxruntime conversion (the `export` extra): a model conversion, not the wheel
    --ignore=tests/test_convert.py
    # drives the host's Chromium through selenium: a browser test, not a board test
    --deselect=tests/test_serve_browser.py::test_browser_shows_live_annotated_stream
)
# -m "not slow" on every CPU: the many-forward-pass tests (coco128 parity, mAP, calibration).

# cortex-a72 (and cortex-a7 on armv7l): the broad run, each module's listed tests
BROAD=(
    tests/test_detect.py::test_bus_finds_bus_and_people
    tests/test_detect.py::test_path_and_array_agree
    tests/test_detect.py::test_boxes_inside_image_and_sorted
    tests/test_detect.py::test_custom_one_class_model
    tests/test_detect.py::test_legacy_model_family
    tests/test_detect.py::test_nms_modes
    tests/test_detect.py::test_rgb_and_gray_and_bgra
    tests/test_detect.py::test_non_contiguous_views
    tests/test_detect.py::test_detections_object
    tests/test_detect.py::test_input_size_option
    tests/test_errors.py
    tests/test_bench.py::test_bench_arm_reads_jpeg
    tests/test_bench.py::test_bench_arm_rejects_what_it_cannot_decode
    tests/test_bench.py::test_cli_bench_errors
    tests/test_cli.py::test_models_lists_zoo
    tests/test_cli.py::test_error_exit_codes
    tests/test_cli.py::test_user_errors_are_one_line
    tests/test_cli.py::test_detect_prints_and_saves
    tests/test_cli_jsonl.py
    tests/test_eval.py::test_class_mapping
    tests/test_eval.py::test_perfect_predictions_score_one
    tests/test_eval.py::test_shifted_boxes_give_known_map
    tests/test_eval.py::test_yolo_and_coco_json_loaders_agree
    tests/test_eval.py::test_fp16_is_applied
    tests/test_memory.py
    tests/test_parity.py::test_layout_inferred
    "tests/test_parity.py::test_parity_shared_images[nanodet_m]"
    "tests/test_parity.py::test_parity_shared_images[plus_int8]"
    tests/test_pickle.py::test_closed_detector_refuses_to_pickle
    tests/test_pickle.py::test_memory_detector_pickle_carries_the_bytes
    tests/test_pickle.py::test_zoo_model_round_trip_in_another_process
    tests/test_plots.py::test_confusion_matrix_known_counts
    tests/test_plots.py::test_pr_curve_of_a_known_ranking
    tests/test_plots.py::test_plot_errors
    "tests/test_pool.py::test_bit_identical_to_serial_for_1_2_4_workers[nanodet_m]"
    tests/test_pool.py::test_core_error_from_a_worker_is_the_detect_error
    tests/test_pool.py::test_unknown_cores_mode_is_a_clear_error
    tests/test_precision.py
    tests/test_predict.py::test_single_image_path
    tests/test_predict.py::test_to_supervision
    tests/test_predict.py::test_bad_video_sources
    tests/test_quantize.py::test_kl_ignores_outliers_and_keeps_uniform_range
    tests/test_quantize.py::test_aciq_laplace_clip
    tests/test_quantize.py::test_weight_scales_per_channel
    tests/test_quantize.py::test_quantize_errors
    tests/test_quantize.py::test_int8_layout_matches_ncnn2int8
    tests/test_readme.py::test_readme_has_examples
    "tests/test_readme.py::test_readme_block_runs[5]"
    tests/test_reliability.py::test_damaged_param
    tests/test_reliability.py::test_more_wrong_dtypes
    tests/test_reliability.py::test_tiny_and_thin_frames
    tests/test_reliability.py::test_close
    tests/test_serve.py::test_endpoints
    tests/test_serve.py::test_token_required_everywhere
    tests/test_serve_browser.py
    tests/test_skip_rule.py
    tests/test_startup.py::test_import_pulls_in_nothing_heavy
    "tests/test_startup.py::test_threaded_preprocess_is_bit_identical[letterbox-nanodet_m]"
    tests/test_stream.py::test_workers_argument_checked
    tests/test_stream.py::test_bad_image_in_a_list_raises_in_order
    tests/test_stream.py::test_callable_and_iterable_sources
    tests/test_stream.py::test_cli_workers
    tests/test_track.py::test_bad_arguments_are_clear
    tests/test_track.py::test_cli_track_video_with_line
    tests/test_zoo.py
)

# cortex-a53 and cortex-a76 (and cortex-a15 on armv7l): a few tests of each module
SHORT=(
    tests/test_detect.py::test_bus_finds_bus_and_people
    tests/test_errors.py::test_garbled_param
    tests/test_errors.py::test_missing_files
    tests/test_errors.py::test_bad_call_arguments
    tests/test_bench.py::test_bench_arm_reads_jpeg
    tests/test_cli.py::test_models_lists_zoo
    tests/test_cli_jsonl.py::test_jsonl_refuses_to_overwrite_and_resume_needs_jsonl
    tests/test_eval.py::test_fp16_is_applied
    tests/test_memory.py::test_rss_flat_over_1000_load_unload_cycles
    "tests/test_parity.py::test_parity_shared_images[nanodet_m]"
    tests/test_pickle.py::test_closed_detector_refuses_to_pickle
    tests/test_plots.py::test_plot_errors
    tests/test_pool.py::test_core_error_from_a_worker_is_the_detect_error
    tests/test_precision.py::test_auto_follows_the_cpu
    tests/test_precision.py::test_fp16_runs_only_where_the_cpu_has_it
    tests/test_predict.py::test_single_image_path
    tests/test_quantize.py::test_int8_layout_matches_ncnn2int8
    tests/test_readme.py::test_readme_has_examples
    tests/test_reliability.py::test_tiny_and_thin_frames
    tests/test_serve.py::test_token_required_everywhere
    tests/test_skip_rule.py::test_skips_fail_unless_allowed
    tests/test_startup.py::test_import_pulls_in_nothing_heavy
    tests/test_stream.py::test_callable_and_iterable_sources
    tests/test_track.py::test_bad_arguments_are_clear
    tests/test_zoo.py::test_shared_models_resolve_offline
)

# armv7l: what needs packages with neither an armv7l wheel on PyPI nor a small Debian closure
# in the emulated sysroot (test_wheels.sh step_armhf_debian_python brings cv2 and Pillow; the
# test site aiohttp and qrcode). `armv7 BROAD|SHORT` prints the list without them.
ARMV7_WITHOUT=(
    tests/test_plots.py                          # matplotlib
    tests/test_track.py                          # trackers + supervision (scipy, matplotlib)
    tests/test_eval.py                           # pycocotools
    tests/test_predict.py::test_to_supervision   # supervision
)
armv7() {
    local -n list="$1"
    local t w keep
    for t in "${list[@]}"; do
        keep=1
        for w in "${ARMV7_WITHOUT[@]}"; do [[ $t == "$w" || $t == "$w"::* ]] && keep=0; done
        ((keep)) && printf '%s\n' "$t"
    done
}

# What the CPUs run. Each CI run: every module's SHORT tests on cortex-a72 and cortex-a7 (about
# 5 minutes each on an idle core), MINI on the others; NANODET_WHEELTEST_FULL=1 runs BROAD
# instead of SHORT on those two (about 20 minutes each: for a release, by hand).
MINI=(
    tests/test_detect.py::test_bus_finds_bus_and_people
    tests/test_errors.py::test_bad_call_arguments
    tests/test_precision.py::test_auto_follows_the_cpu
    tests/test_precision.py::test_fp16_runs_only_where_the_cpu_has_it
    tests/test_startup.py::test_import_pulls_in_nothing_heavy
)
if [[ ${NANODET_WHEELTEST_FULL:-0} == 1 ]]; then
    WIDE=("${BROAD[@]}")
    WIDE_LABEL=broad
else
    WIDE=("${SHORT[@]}")
    WIDE_LABEL=short
fi

