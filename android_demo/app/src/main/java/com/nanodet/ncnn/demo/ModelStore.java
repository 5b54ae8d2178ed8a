package com.nanodet.ncnn.demo;

import android.content.Context;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The models the spinner offers: two bundled in the APK (assets/models/, copied there at build
 * time) and any custom NanoDet .param/.bin pair copied to the app's external files folder
 * (Android/data/com.nanodet.ncnn.demo/files/models/), with an optional NAME.txt of class names.
 * The native core reads the input size, classes and head layout from the graph itself.
 */
final class ModelStore {
    static final class Entry {
        final String title;
        final String param;   // asset path or absolute file path
        final String bin;
        final boolean asset;
        final String labelsFile;  // absolute path of NAME.txt, or null

        Entry(String title, String param, String bin, boolean asset, String labelsFile) {
            this.title = title;
            this.param = param;
            this.bin = bin;
            this.asset = asset;
            this.labelsFile = labelsFile;
        }

        @Override
        public String toString() {
            return title;
        }
    }

    private ModelStore() {}

    static File customDir(Context c) {
        File d = c.getExternalFilesDir("models");
        return d != null ? d : new File(c.getFilesDir(), "models");
    }

    static List<Entry> list(Context c) {
        List<Entry> out = new ArrayList<>();
        out.add(new Entry("NanoDet-Plus-m 416", "models/nanodet-plus-m_416.param",
                "models/nanodet-plus-m_416.bin", true, null));
        out.add(new Entry("NanoDet-m 320", "models/nanodet_m.param", "models/nanodet_m.bin", true,
                null));
        File[] files = customDir(c).listFiles();
        if (files != null) {
            Arrays.sort(files);
            for (File p : files) {
                String n = p.getName();
                if (!n.endsWith(".param")) continue;
                String stem = n.substring(0, n.length() - ".param".length());
                File bin = new File(p.getParentFile(), stem + ".bin");
                File names = new File(p.getParentFile(), stem + ".txt");
                if (!bin.isFile()) continue;
                out.add(new Entry("Custom: " + stem, p.getAbsolutePath(), bin.getAbsolutePath(),
                        false, names.isFile() ? names.getAbsolutePath() : null));
            }
        }
        return out;
    }

    /** {param bytes, bin bytes} */
    static byte[][] load(Context c, Entry e) throws IOException {
        return new byte[][] {read(c, e, e.param), read(c, e, e.bin)};
    }

    private static byte[] read(Context c, Entry e, String path) throws IOException {
        // (InputStream.readAllBytes needs API 33; minSdk is 24)
        try (InputStream in = e.asset ? c.getAssets().open(path) : new FileInputStream(path)) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] chunk = new byte[1 << 16];
            for (int n; (n = in.read(chunk)) > 0; ) out.write(chunk, 0, n);
            return out.toByteArray();
        }
    }

    static String[] labels(Entry e, int numClasses) {
        if (e.labelsFile != null) {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(
                    new FileInputStream(e.labelsFile), StandardCharsets.UTF_8))) {
                List<String> lines = new ArrayList<>();
                for (String l; (l = r.readLine()) != null; ) {
                    if (!l.trim().isEmpty()) lines.add(l.trim());
                }
                return lines.toArray(new String[0]);
            } catch (IOException ignored) {
                // fall through to generic names
            }
        }
        if (numClasses == CocoNames.NAMES.length) return CocoNames.NAMES;
        String[] names = new String[numClasses];
        for (int i = 0; i < numClasses; i++) names[i] = "class " + i;
        return names;
    }
}
