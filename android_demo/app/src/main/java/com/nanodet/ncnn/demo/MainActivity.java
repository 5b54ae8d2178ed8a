package com.nanodet.ncnn.demo;

import android.Manifest;
import android.content.ContentValues;
import android.content.pm.PackageManager;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.graphics.Canvas;
import android.graphics.Matrix;
import android.net.Uri;
import android.os.Build;
import android.os.Bundle;
import android.os.Environment;
import android.provider.MediaStore;
import android.util.Log;
import android.util.Size;
import android.view.View;
import android.widget.AdapterView;
import android.widget.ArrayAdapter;
import android.widget.Button;
import android.widget.ImageView;
import android.widget.Spinner;
import android.widget.Toast;

import androidx.activity.ComponentActivity;
import androidx.activity.result.ActivityResultLauncher;
import androidx.activity.result.contract.ActivityResultContracts;
import androidx.camera.core.CameraSelector;
import androidx.camera.core.ImageAnalysis;
import androidx.camera.core.ImageProxy;
import androidx.camera.core.Preview;
import androidx.camera.core.resolutionselector.AspectRatioStrategy;
import androidx.camera.core.resolutionselector.ResolutionSelector;
import androidx.camera.core.resolutionselector.ResolutionStrategy;
import androidx.camera.lifecycle.ProcessCameraProvider;
import androidx.camera.view.PreviewView;
import androidx.core.content.ContextCompat;
import androidx.exifinterface.media.ExifInterface;

import com.google.common.util.concurrent.ListenableFuture;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.text.SimpleDateFormat;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Live camera detection (CameraX preview + YUV_420_888 analysis frames), gallery images and
 * snapshots. All native work (model loads and detections) runs on one background thread, so a
 * detector is never used while it is being replaced.
 */
public final class MainActivity extends ComponentActivity {
    private static final String TAG = "NanoDetDemo";
    private static final float CONF = 0.35f;
    private static final float IOU = 0.6f;
    private static final int[] THREADS = {1, 2, 4, 8};
    private static final String[] CORES = {"All cores", "Big cores", "Little cores"};
    private static final int[] CORE_MODES = {NanoDet.CORES_ALL, NanoDet.CORES_BIG, NanoDet.CORES_LITTLE};

    private final ExecutorService worker = Executors.newSingleThreadExecutor();

    private PreviewView preview;
    private ImageView still;
    private OverlayView overlay;
    private Spinner modelSpinner;
    private List<ModelStore.Entry> models = new ArrayList<>();

    // owned by the worker thread
    private NanoDet detector;
    private String[] labels = new String[0];
    private long lastFrameNs;
    private double fps;

    // shared with the UI thread
    private volatile boolean live = true;
    private volatile boolean frontCamera = false;
    private volatile int threads = 4;
    private volatile int modelIndex = 0;
    private Bitmap stillBitmap;           // upright gallery image (UI thread)
    private NanoDet.Result stillResult;   // its detections (UI thread)
    private String[] stillLabels = new String[0];
    private ProcessCameraProvider cameraProvider;

    private final ActivityResultLauncher<String> requestCamera = registerForActivityResult(
            new ActivityResultContracts.RequestPermission(), granted -> {
                if (granted) startCamera();
                else toast(getString(R.string.no_camera_permission));
            });
    private final ActivityResultLauncher<String> requestStorage = registerForActivityResult(
            new ActivityResultContracts.RequestPermission(), granted -> {
                if (granted) saveSnapshot();
            });
    private final ActivityResultLauncher<String> pickImage = registerForActivityResult(
            new ActivityResultContracts.GetContent(), uri -> {
                if (uri != null) worker.execute(() -> detectImage(uri));
            });

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        setContentView(R.layout.activity_main);
        preview = findViewById(R.id.preview);
        still = findViewById(R.id.still);
        overlay = findViewById(R.id.overlay);
        preview.setScaleType(PreviewView.ScaleType.FILL_CENTER);

        int[] cpu = NanoDet.cpuInfo();  // {all, little, big}
        int big = cpu[2] > 0 ? cpu[2] : cpu[0];
        threads = Math.max(1, Math.min(4, big));

        modelSpinner = findViewById(R.id.model);
        models = ModelStore.list(this);
        modelSpinner.setAdapter(adapter(models.toArray()));
        modelSpinner.setOnItemSelectedListener(onSelect(pos -> {
            modelIndex = pos;
            worker.execute(this::loadModel);
        }));

        Spinner threadSpinner = findViewById(R.id.threads);
        String[] threadNames = new String[THREADS.length];
        int selected = 0;
        for (int i = 0; i < THREADS.length; i++) {
            threadNames[i] = THREADS[i] + (THREADS[i] == 1 ? " thread" : " threads");
            if (THREADS[i] <= threads) selected = i;
        }
        threadSpinner.setAdapter(adapter(threadNames));
        threadSpinner.setSelection(selected);
        threadSpinner.setOnItemSelectedListener(onSelect(pos -> {
            if (THREADS[pos] == threads) return;  // the initial selection
            threads = THREADS[pos];
            worker.execute(this::loadModel);  // ncnn fixes the thread count per loaded net
        }));

        Spinner coreSpinner = findViewById(R.id.cores);
        coreSpinner.setAdapter(adapter(CORES));
        coreSpinner.setOnItemSelectedListener(onSelect(pos -> {
            if (!NanoDet.setCpuCores(CORE_MODES[pos])) toast("core selection not supported");
        }));

        Button switchCamera = findViewById(R.id.switch_camera);
        switchCamera.setOnClickListener(v -> {
            frontCamera = !frontCamera;
            showLive();
            bindCamera();
        });
        findViewById(R.id.gallery).setOnClickListener(v -> pickImage.launch("image/*"));
        findViewById(R.id.snapshot).setOnClickListener(v -> {
            if (Build.VERSION.SDK_INT < Build.VERSION_CODES.Q && ContextCompat.checkSelfPermission(
                    this, Manifest.permission.WRITE_EXTERNAL_STORAGE) != PackageManager.PERMISSION_GRANTED) {
                requestStorage.launch(Manifest.permission.WRITE_EXTERNAL_STORAGE);
            } else {
                saveSnapshot();
            }
        });
        findViewById(R.id.live).setOnClickListener(v -> showLive());

        if (ContextCompat.checkSelfPermission(this, Manifest.permission.CAMERA)
                == PackageManager.PERMISSION_GRANTED) {
            startCamera();
        } else {
            requestCamera.launch(Manifest.permission.CAMERA);
        }
    }

    @Override
    protected void onDestroy() {
        super.onDestroy();
        worker.execute(() -> {
            if (detector != null) detector.close();
            detector = null;
        });
        worker.shutdown();
    }

    // --- models (worker thread) --------------------------------------------------------------
    private void loadModel() {
        ModelStore.Entry e = models.get(modelIndex);
        try {
            byte[][] pb = ModelStore.load(this, e);
            NanoDet d = new NanoDet(pb[0], pb[1], threads, 0);
            if (detector != null) detector.close();
            detector = d;
            labels = ModelStore.labels(e, d.numClasses());
            fps = 0;
            Log.i(TAG, e.title + ": " + d.describe() + " | " + NanoDet.version());
            runOnUiThread(() -> overlay.clear(e.title + " loaded (" + threads + " threads)"));
        } catch (Exception ex) {  // IOException, or the core rejecting the files
            Log.e(TAG, "cannot load " + e.title, ex);
            runOnUiThread(() -> toast("cannot load " + e.title + ": " + ex.getMessage()));
        }
    }

    // --- camera --------------------------------------------------------------------------------
    private void startCamera() {
        ListenableFuture<ProcessCameraProvider> f = ProcessCameraProvider.getInstance(this);
        f.addListener(() -> {
            try {
                cameraProvider = f.get();
                bindCamera();
            } catch (Exception ex) {
                Log.e(TAG, "camera unavailable", ex);
                toast("camera unavailable: " + ex.getMessage());
            }
        }, ContextCompat.getMainExecutor(this));
    }

    private void bindCamera() {
        if (cameraProvider == null) return;
        cameraProvider.unbindAll();
        CameraSelector selector = frontCamera ? CameraSelector.DEFAULT_FRONT_CAMERA
                : CameraSelector.DEFAULT_BACK_CAMERA;
        try {
            if (!cameraProvider.hasCamera(selector)) {
                toast(frontCamera ? "no front camera" : "no back camera");
                frontCamera = !frontCamera;
                selector = frontCamera ? CameraSelector.DEFAULT_FRONT_CAMERA
                        : CameraSelector.DEFAULT_BACK_CAMERA;
            }
        } catch (Exception ex) {
            Log.w(TAG, "hasCamera", ex);
        }
        // Same 4:3 field of view for preview and analysis, so boxes line up with the preview.
        ResolutionSelector previewRes = new ResolutionSelector.Builder()
                .setAspectRatioStrategy(AspectRatioStrategy.RATIO_4_3_FALLBACK_AUTO_STRATEGY)
                .build();
        ResolutionSelector analysisRes = new ResolutionSelector.Builder()
                .setAspectRatioStrategy(AspectRatioStrategy.RATIO_4_3_FALLBACK_AUTO_STRATEGY)
                .setResolutionStrategy(new ResolutionStrategy(new Size(640, 480),
                        ResolutionStrategy.FALLBACK_RULE_CLOSEST_HIGHER_THEN_LOWER))
                .build();
        Preview p = new Preview.Builder().setResolutionSelector(previewRes).build();
        p.setSurfaceProvider(preview.getSurfaceProvider());
        ImageAnalysis analysis = new ImageAnalysis.Builder()
                .setResolutionSelector(analysisRes)
                .setBackpressureStrategy(ImageAnalysis.STRATEGY_KEEP_ONLY_LATEST)
                .setOutputImageFormat(ImageAnalysis.OUTPUT_IMAGE_FORMAT_YUV_420_888)
                .build();
        analysis.setAnalyzer(worker, this::analyze);
        lastFrameNs = 0;
        cameraProvider.bindToLifecycle(this, selector, p, analysis);
    }

    /** One camera frame (worker thread): planes straight to the core, no Java-side copies. */
    private void analyze(ImageProxy image) {
        try {
            if (!live || detector == null) return;
            ImageProxy.PlaneProxy[] planes = image.getPlanes();
            int rotation = image.getImageInfo().getRotationDegrees();
            boolean mirror = frontCamera;  // PreviewView shows the front camera mirrored
            NanoDet.Result r = detector.detectYuv420(planes[0].getBuffer(), planes[1].getBuffer(),
                    planes[2].getBuffer(), image.getWidth(), image.getHeight(),
                    planes[0].getRowStride(), planes[1].getRowStride(),
                    planes[1].getPixelStride(), rotation, mirror, CONF, IOU);
            long now = System.nanoTime();
            if (lastFrameNs != 0) {
                double inst = 1e9 / (now - lastFrameNs);
                fps = fps == 0 ? inst : 0.9 * fps + 0.1 * inst;
            }
            lastFrameNs = now;
            String source = String.format(Locale.ROOT, "%s %dx%d r%d%s",
                    frontCamera ? "front" : "back", image.getWidth(), image.getHeight(), rotation,
                    mirror ? " mirrored" : "");
            String status = OverlayView.status(r, fps, source);
            String[] names = labels;
            overlay.post(() -> {
                if (live) overlay.show(r, names, status, true);
            });
        } catch (RuntimeException ex) {
            Log.e(TAG, "detection failed", ex);
        } finally {
            image.close();
        }
    }

    // --- gallery images ------------------------------------------------------------------------
    /** Worker thread: decode, detect on the stored pixels with the EXIF rotation, show upright. */
    private void detectImage(Uri uri) {
        try {
            int exif;
            try (InputStream in = getContentResolver().openInputStream(uri)) {
                exif = new ExifInterface(in).getAttributeInt(ExifInterface.TAG_ORIENTATION,
                        ExifInterface.ORIENTATION_NORMAL);
            }
            BitmapFactory.Options o = new BitmapFactory.Options();
            o.inJustDecodeBounds = true;
            try (InputStream in = getContentResolver().openInputStream(uri)) {
                BitmapFactory.decodeStream(in, null, o);
            }
            o.inSampleSize = 1;  // keep the long side <= 2048 px: plenty for a 416 input
            while (Math.max(o.outWidth, o.outHeight) / o.inSampleSize > 2048) o.inSampleSize *= 2;
            o.inJustDecodeBounds = false;
            o.inPreferredConfig = Bitmap.Config.ARGB_8888;
            Bitmap bmp;
            try (InputStream in = getContentResolver().openInputStream(uri)) {
                bmp = BitmapFactory.decodeStream(in, null, o);
            }
            if (bmp == null) throw new IllegalArgumentException("not an image");
            if (bmp.getConfig() != Bitmap.Config.ARGB_8888) bmp = bmp.copy(Bitmap.Config.ARGB_8888, false);
            ByteBuffer px = ByteBuffer.allocate(bmp.getRowBytes() * bmp.getHeight());
            bmp.copyPixelsToBuffer(px);  // ARGB_8888 is R, G, B, A in memory
            int rotation = Orientation.rotation(exif);
            boolean mirror = Orientation.mirror(exif);
            NanoDet d = detector;
            if (d == null) throw new IllegalStateException("no model loaded");
            NanoDet.Result r = d.detect(px.array(), bmp.getWidth(), bmp.getHeight(),
                    bmp.getRowBytes(), NanoDet.FORMAT_RGBA, rotation, mirror, CONF, IOU);
            Matrix m = new Matrix();  // the same orientation for display
            m.postRotate(rotation);
            if (mirror) m.postScale(-1, 1);
            Bitmap upright = rotation == 0 && !mirror ? bmp
                    : Bitmap.createBitmap(bmp, 0, 0, bmp.getWidth(), bmp.getHeight(), m, true);
            String status = OverlayView.status(r, 0, String.format(Locale.ROOT,
                    "image %dx%d exif %d", upright.getWidth(), upright.getHeight(), exif));
            String[] names = labels;
            runOnUiThread(() -> {
                live = false;
                stillBitmap = upright;
                stillResult = r;
                stillLabels = names;
                preview.setVisibility(View.INVISIBLE);
                still.setImageBitmap(upright);
                still.setVisibility(View.VISIBLE);
                overlay.show(r, names, status, false);
            });
        } catch (Exception ex) {
            Log.e(TAG, "gallery image", ex);
            runOnUiThread(() -> toast("cannot read image: " + ex.getMessage()));
        }
    }

    private void showLive() {
        live = true;
        stillBitmap = null;
        stillResult = null;
        still.setVisibility(View.GONE);
        preview.setVisibility(View.VISIBLE);
        overlay.clear("");
    }

    // --- snapshots -----------------------------------------------------------------------------
    /** Saves what is on screen with the boxes drawn (UI thread) into Pictures/NanoDet. */
    private void saveSnapshot() {
        Bitmap out;
        if (!live && stillBitmap != null && stillResult != null) {
            // full-resolution gallery image with boxes in its own pixels
            out = stillBitmap.copy(Bitmap.Config.ARGB_8888, true);
            overlay.drawDetections(new Canvas(out), stillResult, stillLabels, 1f, 0f, 0f);
        } else {
            Bitmap frame = preview.getBitmap();  // as displayed: rotated, mirrored, cropped
            if (frame == null) {
                toast("no camera frame yet");
                return;
            }
            out = frame.copy(Bitmap.Config.ARGB_8888, true);
            overlay.draw(new Canvas(out));  // same view size: boxes, labels and timings as seen
        }
        String name = "nanodet_" + new SimpleDateFormat("yyyyMMdd_HHmmss", Locale.ROOT)
                .format(new Date()) + ".jpg";
        ContentValues v = new ContentValues();
        v.put(MediaStore.Images.Media.DISPLAY_NAME, name);
        v.put(MediaStore.Images.Media.MIME_TYPE, "image/jpeg");
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.Q) {
            v.put(MediaStore.Images.Media.RELATIVE_PATH, Environment.DIRECTORY_PICTURES + "/NanoDet");
        }
        Uri uri = getContentResolver().insert(MediaStore.Images.Media.EXTERNAL_CONTENT_URI, v);
        if (uri == null) {
            toast("cannot create the snapshot file");
            return;
        }
        try (OutputStream os = getContentResolver().openOutputStream(uri)) {
            if (os == null || !out.compress(Bitmap.CompressFormat.JPEG, 95, os))
                throw new java.io.IOException("JPEG encoding failed");
            toast("saved Pictures/NanoDet/" + name);
        } catch (Exception ex) {
            Log.e(TAG, "snapshot", ex);
            toast("snapshot failed: " + ex.getMessage());
        }
    }

    // --- small helpers -------------------------------------------------------------------------
    private interface OnPosition {
        void selected(int position);
    }

    private static AdapterView.OnItemSelectedListener onSelect(OnPosition f) {
        return new AdapterView.OnItemSelectedListener() {
            @Override
            public void onItemSelected(AdapterView<?> parent, View view, int position, long id) {
                f.selected(position);
            }

            @Override
            public void onNothingSelected(AdapterView<?> parent) {}
        };
    }

    private ArrayAdapter<Object> adapter(Object[] items) {
        ArrayAdapter<Object> a = new ArrayAdapter<>(this, android.R.layout.simple_spinner_item, items);
        a.setDropDownViewResource(android.R.layout.simple_spinner_dropdown_item);
        return a;
    }

    private void toast(String msg) {
        runOnUiThread(() -> Toast.makeText(this, msg, Toast.LENGTH_LONG).show());
    }
}
