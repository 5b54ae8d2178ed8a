package com.nanodet.ncnn.demo.hosttest;

import com.nanodet.ncnn.demo.NanoDet;
import com.nanodet.ncnn.demo.Orientation;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Desktop stand-in for the Android app: loads the host build of libnanodetncnn.so and calls the
 * app's own NanoDet class (compiled from android_demo/app/src/main/java) on the frames that
 * jni_parity.py prepared. Writes out/CASE.bgr (the frame the detector saw) and out/CASE.det
 * (the packed float result); jni_parity.py compares them with the Python API.
 *
 * Usage: java -Djava.library.path=DIR -cp CLASSES com.nanodet.ncnn.demo.hosttest.HostHarness WORK
 */
public final class HostHarness {
    private static int passed = 0;
    private static int failed = 0;

    private static void check(boolean ok, String name, String why) {
        if (ok) {
            passed++;
        } else {
            failed++;
            System.out.println("FAIL " + name + ": " + why);
        }
    }

    private interface Call {
        void run() throws Exception;
    }

    private static void expectThrow(String name, Class<? extends Throwable> type, Call call) {
        try {
            call.run();
            check(false, name, "no exception");
        } catch (Throwable t) {
            check(type.isInstance(t), name, "threw " + t);
        }
    }

    private static Map<String, String> fields(String line) {
        Map<String, String> m = new HashMap<>();
        for (String kv : line.trim().split(" ")) {
            int eq = kv.indexOf('=');
            m.put(kv.substring(0, eq), kv.substring(eq + 1));
        }
        return m;
    }

    /** A direct buffer over bytes [from, from+length) of data, like one Image.Plane buffer. */
    private static ByteBuffer plane(ByteBuffer all, int from, int length) {
        ByteBuffer d = all.duplicate();
        d.position(from);
        d.limit(from + length);
        return d.slice();
    }

    private static ByteBuffer direct(byte[] bytes) {
        ByteBuffer b = ByteBuffer.allocateDirect(bytes.length);
        b.put(bytes);
        b.flip();
        return b;
    }

    private static String format(NanoDet.Result r) {
        StringBuilder s = new StringBuilder();
        for (float f : r.raw) s.append(String.format(Locale.ROOT, "%.9g ", f));
        return s.toString().trim() + "\n";
    }

    public static void main(String[] args) throws IOException {
        Path work = Path.of(args[0]);
        Path out = work.resolve("out");
        Files.createDirectories(out);
        System.out.println("native: " + NanoDet.version());
        int[] cpu = NanoDet.cpuInfo();
        check(cpu.length == 3 && cpu[0] >= 1, "cpuInfo", java.util.Arrays.toString(cpu));

        Map<String, NanoDet> models = new HashMap<>();
        Map<String, byte[][]> modelBytes = new HashMap<>();
        for (String line : Files.readAllLines(work.resolve("models.txt"))) {
            String[] p = line.trim().split(" ");
            byte[] param = Files.readAllBytes(Path.of(p[1]));
            byte[] bin = Files.readAllBytes(Path.of(p[2]));
            modelBytes.put(p[0], new byte[][] {param, bin});
            NanoDet d = new NanoDet(param, bin, Integer.parseInt(p[3]), 0);
            System.out.println("model " + p[0] + ": " + d.describe());
            models.put(p[0], d);
        }

        List<String> lines = Files.readAllLines(work.resolve("cases.txt"));
        long t0 = System.nanoTime();
        for (String line : lines) {
            Map<String, String> c = fields(line);
            String id = c.get("case");
            NanoDet det = models.get(c.get("model"));
            int w = Integer.parseInt(c.get("w")), h = Integer.parseInt(c.get("h"));
            int stride = Integer.parseInt(c.get("stride"));
            int fmt = Integer.parseInt(c.get("format")), rot = Integer.parseInt(c.get("rot"));
            boolean mirror = c.get("mirror").equals("1");
            try {
                byte[] bgr;
                NanoDet.Result r;
                if (c.get("kind").equals("bytes")) {
                    byte[] data = Files.readAllBytes(work.resolve(id + ".data"));
                    bgr = NanoDet.toBgr(data, w, h, stride, fmt, rot, mirror);
                    r = det.detect(data, w, h, stride, fmt, rot, mirror, 0.35f, 0.6f);
                } else {
                    int uvs = Integer.parseInt(c.get("uvstride")), ps = Integer.parseInt(c.get("ps"));
                    ByteBuffer yAll = direct(Files.readAllBytes(work.resolve(id + ".y")));
                    ByteBuffer y = plane(yAll, 0, (h - 1) * stride + w);
                    int cLen = (h / 2 - 1) * uvs + (w / 2 - 1) * ps + 1;
                    ByteBuffer u, v;
                    if (ps == 2) {  // one VU-interleaved allocation: U starts one byte after V
                        ByteBuffer vu = direct(Files.readAllBytes(work.resolve(id + ".vu")));
                        v = plane(vu, 0, cLen);
                        u = plane(vu, 1, cLen);
                    } else {
                        u = plane(direct(Files.readAllBytes(work.resolve(id + ".u"))), 0, cLen);
                        v = plane(direct(Files.readAllBytes(work.resolve(id + ".v"))), 0, cLen);
                    }
                    bgr = NanoDet.toBgrYuv420(y, u, v, w, h, stride, uvs, ps, rot, mirror);
                    r = det.detectYuv420(y, u, v, w, h, stride, uvs, ps, rot, mirror, 0.35f, 0.6f);
                }
                Files.write(out.resolve(id + ".bgr"), bgr);
                Files.writeString(out.resolve(id + ".det"), format(r));
                boolean swap = rot == 90 || rot == 270;
                check(r.width == (swap ? h : w) && r.height == (swap ? w : h), id + " size",
                        r.width + "x" + r.height);
            } catch (RuntimeException e) {
                check(false, id, "threw " + e);
            }
        }
        double ms = (System.nanoTime() - t0) / 1e6 / lines.size();
        System.out.printf(Locale.ROOT, "harness: %d frames, %.1f ms per frame (convert + detect)%n",
                lines.size(), ms);

        // --- EXIF orientations of gallery images (Orientation.java) -------------------------
        // Independent of the native convention: the EXIF spec's "0th row / 0th column" table
        // says where stored pixel (x, y) of a w x h image is displayed.
        int ew = 5, eh = 3;
        byte[] g = new byte[ew * eh];
        for (int i = 0; i < g.length; i++) g[i] = (byte) (10 * i + 7);
        for (int exif = 1; exif <= 8; exif++) {
            byte[] shown = NanoDet.toBgr(g, ew, eh, ew, NanoDet.FORMAT_GRAY,
                    Orientation.rotation(exif), Orientation.mirror(exif));
            boolean swap = exif >= 5;
            int dw = swap ? eh : ew;
            boolean ok = shown.length == ew * eh * 3;
            for (int y = 0; ok && y < eh; y++) {
                for (int x = 0; ok && x < ew; x++) {
                    int[][] pos = {null, {x, y}, {ew - 1 - x, y}, {ew - 1 - x, eh - 1 - y},
                            {x, eh - 1 - y}, {y, x}, {eh - 1 - y, x}, {eh - 1 - y, ew - 1 - x},
                            {y, ew - 1 - x}};
                    int[] p = pos[exif];
                    ok = shown[3 * (p[1] * dw + p[0])] == g[y * ew + x];
                }
            }
            check(ok, "EXIF orientation " + exif, "rotation " + Orientation.rotation(exif)
                    + ", mirror " + Orientation.mirror(exif) + " does not display it upright");
        }

        // --- the rest of the native surface the app uses ---------------------------------
        NanoDet plus = models.get("plus416");
        byte[] gray = new byte[64 * 48];
        check(plus.detect(gray, 64, 48, 64, NanoDet.FORMAT_GRAY, 0, false, 0.35f, 0.6f).count == 0,
                "blank frame", "detections on a blank frame");
        // big-core mode (ncnn powersave 2) must not change results
        byte[] bus = Files.readAllBytes(work.resolve("bus-nv21-r90.data"));
        NanoDet.Result a = plus.detect(bus, 1080, 810, 1080, NanoDet.FORMAT_NV21, 90, false, 0.35f, 0.6f);
        check(NanoDet.setCpuCores(NanoDet.CORES_BIG), "setCpuCores(big)", "refused");
        NanoDet.Result b = plus.detect(bus, 1080, 810, 1080, NanoDet.FORMAT_NV21, 90, false, 0.35f, 0.6f);
        check(NanoDet.setCpuCores(NanoDet.CORES_ALL), "setCpuCores(all)", "refused");
        check(!NanoDet.setCpuCores(7), "setCpuCores(7)", "accepted");
        boolean same = a.count == b.count;
        for (int i = HEADER_SKIP; same && i < a.raw.length; i++) same = a.raw[i] == b.raw[i];
        check(same && a.count > 0, "big cores give the same detections", a.count + " vs " + b.count);
        // a second detector with other threads and input size (the app's spinners reload models)
        byte[][] pb = modelBytes.get("plus416");
        try (NanoDet small = new NanoDet(pb[0], pb[1], 1, 320)) {
            NanoDet.Result s = small.detect(bus, 1080, 810, 1080, NanoDet.FORMAT_NV21, 90, false, 0.35f, 0.6f);
            check(s.count > 0 && s.width == 810, "1 thread, 320 input", "count " + s.count);
        }
        // errors surface as Java exceptions, never as crashes
        expectThrow("short NV21 array", IllegalArgumentException.class,
                () -> plus.detect(new byte[100], 64, 48, 64, NanoDet.FORMAT_NV21, 0, false, 0.35f, 0.6f));
        expectThrow("odd-sized YUV", IllegalArgumentException.class,
                () -> plus.detect(new byte[63 * 48 * 2], 63, 48, 63, NanoDet.FORMAT_NV21, 0, false, 0.35f, 0.6f));
        expectThrow("rotation 45", IllegalArgumentException.class,
                () -> plus.detect(gray, 64, 48, 64, NanoDet.FORMAT_GRAY, 45, false, 0.35f, 0.6f));
        expectThrow("unknown format", IllegalArgumentException.class,
                () -> plus.detect(gray, 64, 48, 64, 42, 0, false, 0.35f, 0.6f));
        expectThrow("stride too small", IllegalArgumentException.class,
                () -> plus.detect(gray, 64, 48, 10, NanoDet.FORMAT_RGBA, 0, false, 0.35f, 0.6f));
        expectThrow("conf 2", IllegalArgumentException.class,
                () -> plus.detect(gray, 64, 48, 64, NanoDet.FORMAT_GRAY, 0, false, 2f, 0.6f));
        expectThrow("null array", IllegalArgumentException.class,
                () -> plus.detect(null, 64, 48, 64, NanoDet.FORMAT_GRAY, 0, false, 0.35f, 0.6f));
        expectThrow("heap buffer for YUV", IllegalArgumentException.class,
                () -> plus.detectYuv420(ByteBuffer.allocate(64 * 48), ByteBuffer.allocate(64 * 12),
                        ByteBuffer.allocate(64 * 12), 64, 48, 64, 32, 1, 0, false, 0.35f, 0.6f));
        expectThrow("short U plane", IllegalArgumentException.class,
                () -> plus.detectYuv420(ByteBuffer.allocateDirect(64 * 48), ByteBuffer.allocateDirect(10),
                        ByteBuffer.allocateDirect(64 * 12), 64, 48, 64, 32, 1, 0, false, 0.35f, 0.6f));
        expectThrow("param/bin swapped", IllegalStateException.class,
                () -> new NanoDet(pb[1], pb[0], 1, 0));
        expectThrow("garbage model", IllegalStateException.class,
                () -> new NanoDet("7767517\n1 1\nFoo x 0 1 y\n".getBytes(), new byte[16], 1, 0));
        expectThrow("0 threads", IllegalArgumentException.class, () -> new NanoDet(pb[0], pb[1], 0, 0));
        NanoDet closed = new NanoDet(pb[0], pb[1], 1, 0);
        closed.close();
        closed.close();
        expectThrow("closed detector", IllegalStateException.class,
                () -> closed.detect(gray, 64, 48, 64, NanoDet.FORMAT_GRAY, 0, false, 0.35f, 0.6f));

        for (NanoDet d : models.values()) d.close();
        System.out.println("RESULT " + passed + " " + failed);
        System.exit(failed == 0 ? 0 : 1);
    }

    private static final int HEADER_SKIP = 8;  // timings differ run to run; boxes must not
}
