#!/usr/bin/env python3
"""Static checks of android_demo/ that need no Android SDK: XML well-formedness, manifest
contents, resources the code references, Gradle settings and the paths they name, and the
Java <-> JNI <-> C++ contract (native method names, format numbers, result layout).

  validate_project.py REPO [NATIVE_LIB ...]   (libraries: check their exported JNI symbols)

Prints PASS/FAIL lines and `RESULT passed failed`; exit status 1 on any failure.
"""
from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ANDROID = "{http://schemas.android.com/apk/res/android}"
passed = failed = 0


def check(ok: bool, name: str, why: str = "") -> bool:
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {why}")
    return ok


def strip_groovy(text: str) -> str:
    """Groovy text without comments and string contents (for brace counting)."""
    out, i, n = [], 0, len(text)
    while i < n:
        if text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif text.startswith("/*", i):
            i = text.find("*/", i) + 2
        elif text[i] in "'\"":
            q = text[i]
            i += 1
            while i < n and text[i] != q:
                i += 2 if text[i] == "\\" else 1
            i += 1
            out.append(q + q)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def balanced(text: str) -> bool:
    pairs, stack = {")": "(", "]": "[", "}": "{"}, []
    for ch in strip_groovy(text):
        if ch in "([{":
            stack.append(ch)
        elif ch in pairs:
            if not stack or stack.pop() != pairs[ch]:
                return False
    return not stack


def main(repo: Path, libs: list[Path]) -> int:
    demo = repo / "android_demo"
    app = demo / "app"
    main_dir = app / "src" / "main"
    java_dir = main_dir / "java"

    # --- XML ------------------------------------------------------------------------------
    xml_files = [main_dir / "AndroidManifest.xml"] + sorted((main_dir / "res").rglob("*.xml"))
    trees = {}
    for f in xml_files:
        try:
            trees[f] = ET.parse(f)
            check(True, f"well-formed {f.relative_to(repo)}")
        except (ET.ParseError, OSError) as e:
            check(False, f"well-formed {f.relative_to(repo)}", str(e))

    # resources defined in res/values and res/layout
    strings, styles, ids, layouts = set(), set(), set(), set()
    for f, t in trees.items():
        if f.parent.name.startswith("values"):
            strings |= {e.get("name") for e in t.getroot().iter("string")}
            styles |= {e.get("name") for e in t.getroot().iter("style")}
        if f.parent.name.startswith("layout"):
            layouts.add(f.stem)
            for e in t.getroot().iter():
                v = e.get(ANDROID + "id")
                if v and v.startswith("@+id/"):
                    ids.add(v[5:])

    # --- Gradle ---------------------------------------------------------------------------
    settings = (demo / "settings.gradle").read_text()
    top = (demo / "build.gradle").read_text()
    appg = (app / "build.gradle").read_text()
    props = (demo / "gradle.properties").read_text()
    for name, text in [("settings.gradle", settings), ("build.gradle", top),
                       ("app/build.gradle", appg)]:
        check(balanced(text), f"{name} brackets balance", "unbalanced (), [] or {}")
        check(not re.search(r"\burl\b|https?:|[a-z0-9-]+\.(org|com|io|net)/", text),
              f"{name} names no repository host",
              "repositories must be google()/mavenCentral() DSL calls, no URLs")
    check("include ':app'" in settings or 'include ":app"' in settings,
          "settings.gradle includes :app")
    check("google()" in settings and "mavenCentral()" in settings,
          "settings.gradle uses google() and mavenCentral()")
    check(re.search(r"id 'com\.android\.application' version '8\.\d+\.\d+'", top) is not None,
          "build.gradle pins the Android Gradle Plugin 8.x")
    m = re.search(r"ndkVersion\s+'(\d+\.\d+\.\d+)'", appg)
    check(m is not None, "app/build.gradle names an NDK version (ndkVersion 'X.Y.Z')")
    ndk = m.group(1) if m else "?"
    m = re.search(r"externalNativeBuild\s*\{\s*cmake\s*\{\s*path\s+'([^']+)'", appg)
    cmake_path = app / m.group(1) if m else None
    check(cmake_path is not None and cmake_path.is_file(),
          "externalNativeBuild cmake path exists", str(cmake_path))
    if cmake_path and cmake_path.is_file():
        cm = cmake_path.read_text()
        mm = re.search(r'get_filename_component\(NANODET_ROOT "\$\{CMAKE_CURRENT_SOURCE_DIR\}/([^"]+)"',
                       cm)
        root = (cmake_path.parent / mm.group(1)).resolve() if mm else None
        check(root is not None and (root / "CMakeLists.txt").is_file() and
              "add_library(nanodet_core" in (root / "CMakeLists.txt").read_text(),
              "app CMakeLists reaches the core (NANODET_ROOT -> add_library(nanodet_core))",
              str(root))
        check('add_subdirectory("${NANODET_ROOT}"' in cm and "jni_bridge.cpp" in cm,
              "app CMakeLists builds the core and jni_bridge.cpp")
        check((cmake_path.parent / "jni_bridge.cpp").is_file(), "jni_bridge.cpp exists")
    for key in ("minSdk", "targetSdk", "compileSdk"):
        check(re.search(rf"\b{key}\s+\d+", appg) is not None, f"app/build.gradle sets {key}")
    check(re.search(r"namespace\s+'com\.nanodet\.ncnn\.demo'", appg) is not None,
          "app namespace is com.nanodet.ncnn.demo")
    for p in ("nanodet.abis", "nanodet.ncnnAndroidDir", "nanodet.modelsDir", "nanodet.cmakeArgs",
              "android.useAndroidX=true"):
        check(p in props, f"gradle.properties has {p}")
        if p.startswith("nanodet."):
            check(f"'{p}'" in appg, f"app/build.gradle reads {p}")
    wrapper_jars = list(demo.rglob("gradle-wrapper.jar"))
    tracked = subprocess.run(["git", "-C", str(repo), "ls-files", "android_demo"],
                             capture_output=True, text=True).stdout.split()
    check(not any(t.endswith(".jar") for t in tracked), "no jar committed under android_demo",
          str(wrapper_jars))
    check(not any(t.endswith((".param", ".bin")) for t in tracked),
          "no model files committed under android_demo")

    # bundled models: the Gradle copy list and the app's asset names agree
    bundled = re.findall(r"'([\w.-]+__[\w.-]+/[\w.-]+\.(?:param|bin))'", appg)
    store = (java_dir / "com/nanodet/ncnn/demo/ModelStore.java").read_text()
    assets = set(re.findall(r'"models/([\w.-]+\.(?:param|bin))"', store))
    check(len(bundled) >= 4 and {Path(b).name for b in bundled} == assets,
          "models copied by Gradle == assets ModelStore opens",
          f"{sorted(Path(b).name for b in bundled)} vs {sorted(assets)}")

    # --- manifest -------------------------------------------------------------------------
    mf = trees.get(main_dir / "AndroidManifest.xml")
    if mf is not None:
        r = mf.getroot()
        perms = {e.get(ANDROID + "name"): e for e in r.iter("uses-permission")}
        check("android.permission.CAMERA" in perms, "manifest asks for CAMERA")
        w = perms.get("android.permission.WRITE_EXTERNAL_STORAGE")
        check(w is not None and w.get(ANDROID + "maxSdkVersion") == "28",
              "WRITE_EXTERNAL_STORAGE only up to API 28 (MediaStore afterwards)")
        check(r.get("package") is None, "no package attribute (AGP 8 uses namespace)")
        appl = r.find("application")
        check(appl is not None, "manifest has <application>")
        if appl is not None:
            theme = (appl.get(ANDROID + "theme") or "").removeprefix("@style/")
            check(theme in styles, f"theme @style/{theme} is defined")
            label = (appl.get(ANDROID + "label") or "").removeprefix("@string/")
            check(label in strings, f"label @string/{label} is defined")
            acts = appl.findall("activity")
            launchers = [a for a in acts if any(
                c.get(ANDROID + "name") == "android.intent.category.LAUNCHER"
                for c in a.iter("category"))]
            check(len(launchers) == 1, "exactly one launcher activity")
            for a in acts:
                name = a.get(ANDROID + "name")
                cls = "com.nanodet.ncnn.demo" + name if name.startswith(".") else name
                src = java_dir / (cls.replace(".", "/") + ".java")
                check(src.is_file(), f"activity {name} has a source file", str(src))
                if a in launchers:
                    check(a.get(ANDROID + "exported") == "true",
                          "launcher activity is exported (required from API 31)")

    # --- Java sources vs resources -----------------------------------------------------------
    java = {f: f.read_text() for f in sorted(java_dir.rglob("*.java"))}
    for f, text in java.items():
        rel = f.relative_to(repo)
        for kind, names in (("id", ids), ("string", strings), ("layout", layouts)):
            for ref in set(re.findall(rf"(?<![\w.])R\.{kind}\.(\w+)", text)):
                check(ref in names, f"{rel.name}: R.{kind}.{ref} exists")
    for f, t in trees.items():
        for e in t.getroot().iter():
            if e.tag.startswith("com.nanodet."):
                src = java_dir / (e.tag.replace(".", "/") + ".java")
                check(src.is_file(), f"{f.name}: custom view {e.tag} exists")

    # --- Java <-> JNI <-> C++ contract ---------------------------------------------------------
    nd = java[java_dir / "com/nanodet/ncnn/demo/NanoDet.java"]
    natives = set(re.findall(r"\bnative\s+[\w\[\]]+\s+(\w+)\s*\(", nd))
    bridge = (main_dir / "cpp" / "jni_bridge.cpp").read_text()
    exported = set(re.findall(r"NANODET_JNI\([^,]+,\s*(\w+)\)\(JNIEnv", bridge))
    check(len(natives) >= 10 and natives == exported,
          f"jni_bridge.cpp implements exactly NanoDet's {len(natives)} native methods",
          f"only in Java {sorted(natives - exported)}, only in C++ {sorted(exported - natives)}")
    frame_h = (repo / "cpp/include/nanodet_ncnn/frame.h").read_text()
    cpp_fmt = {k: int(v) for k, v in re.findall(r"^\s+(\w+) = (\d+),", frame_h, re.M)}
    java_fmt = {k: int(v) for k, v in re.findall(r"FORMAT_(\w+) = (\d+);", nd)}
    check(cpp_fmt and cpp_fmt == java_fmt, "NanoDet.FORMAT_* == nanodet::FrameFormat",
          f"{java_fmt} vs {cpp_fmt}")
    hdr = re.search(r"kPackedHeader = (\d+)", frame_h).group(1)
    per = re.search(r"kPackedPerDetection = (\d+)", frame_h).group(1)
    check(f"HEADER = {hdr};" in nd and f"PER_DETECTION = {per};" in nd,
          "NanoDet.Result layout == nanodet::pack_result layout")
    for lib in libs:
        nm = "aarch64-linux-gnu-nm" if "aarch64" in str(lib) else "nm"
        out = subprocess.run([nm, "-D", "--defined-only", str(lib)], capture_output=True,
                             text=True)
        syms = set(re.findall(r"Java_com_nanodet_ncnn_demo_NanoDet_(\w+)", out.stdout))
        check(out.returncode == 0 and syms == natives,
              f"{lib.name} ({lib.parent.name}) exports the {len(natives)} JNI methods",
              f"missing {sorted(natives - syms)}, extra {sorted(syms - natives)}")
        others = [s for s in re.findall(r" T (\S+)", out.stdout) if not s.startswith("Java_")
                  and s not in ("JNI_OnLoad",)]
        check(len(others) == 0, f"{lib.name} ({lib.parent.name}) exports nothing else",
              f"{len(others)} other symbols, e.g. {others[:3]}")

    print(f"android_demo: NDK {ndk}; {len(xml_files)} XML files, {len(java)} Java files")
    print(f"RESULT {passed} {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(Path(sys.argv[1]).resolve(), [Path(p) for p in sys.argv[2:]]))
