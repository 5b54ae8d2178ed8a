package com.nanodet.ncnn.demo;

import android.content.Context;
import android.graphics.Canvas;
import android.graphics.Color;
import android.graphics.Paint;
import android.graphics.RectF;
import android.util.AttributeSet;
import android.view.View;

import java.util.Locale;

/**
 * Boxes, labels and scores over the preview (or a still image), plus FPS and per-stage timings.
 * Boxes arrive in the displayed frame's pixels (NanoDet.Result width x height); the view maps
 * them the way the picture under it is scaled: FILL_CENTER for PreviewView, FIT_CENTER for the
 * still ImageView.
 */
public final class OverlayView extends View {
    private static final int[] COLORS = {0xFFFF3838, 0xFFFF9D97, 0xFFFF701F, 0xFFFFB21D,
            0xFFCFD231, 0xFF48F90A, 0xFF92CC17, 0xFF3DDB86, 0xFF1A9334, 0xFF00D4BB,
            0xFF2C99A8, 0xFF00C2FF, 0xFF344593, 0xFF6473FF, 0xFF0018EC, 0xFF8438FF};

    private final Paint box = new Paint();
    private final Paint text = new Paint();
    private final Paint textBg = new Paint();
    private final RectF r = new RectF();

    private NanoDet.Result result;
    private String[] labels = new String[0];
    private String status = "";
    private boolean fill = true;

    public OverlayView(Context context, AttributeSet attrs) {
        super(context, attrs);
        float dp = getResources().getDisplayMetrics().density;
        box.setStyle(Paint.Style.STROKE);
        box.setStrokeWidth(2.5f * dp);
        text.setColor(Color.WHITE);
        text.setTextSize(13 * dp);
        text.setAntiAlias(true);
        textBg.setStyle(Paint.Style.FILL);
    }

    /** fill: the picture below fills the view (cropped) rather than fitting inside it. */
    public void show(NanoDet.Result result, String[] labels, String status, boolean fill) {
        this.result = result;
        this.labels = labels;
        this.status = status;
        this.fill = fill;
        invalidate();
    }

    public void clear(String status) {
        result = null;
        this.status = status;
        invalidate();
    }

    @Override
    protected void onDraw(Canvas canvas) {
        super.onDraw(canvas);
        NanoDet.Result res = result;
        if (res != null && res.width > 0 && res.height > 0) {
            float sx = (float) getWidth() / res.width, sy = (float) getHeight() / res.height;
            float s = fill ? Math.max(sx, sy) : Math.min(sx, sy);
            drawDetections(canvas, res, labels, s, (getWidth() - res.width * s) / 2f,
                    (getHeight() - res.height * s) / 2f);
        }
        drawStatus(canvas, status);
    }

    /** Draws detections scaled by s and shifted by (dx, dy): also used for snapshots. */
    void drawDetections(Canvas canvas, NanoDet.Result res, String[] names, float s, float dx,
                        float dy) {
        for (int i = 0; i < res.count; i++) {
            int cls = res.classId(i);
            int color = COLORS[Math.floorMod(cls, COLORS.length)];
            r.set(dx + res.x1(i) * s, dy + res.y1(i) * s, dx + res.x2(i) * s, dy + res.y2(i) * s);
            box.setColor(color);
            canvas.drawRect(r, box);
            String name = cls >= 0 && cls < names.length ? names[cls] : "class " + cls;
            String label = String.format(Locale.ROOT, "%s %.2f", name, res.score(i));
            float tw = text.measureText(label), th = text.getTextSize();
            float ty = Math.max(r.top, th + 4);
            textBg.setColor(color);
            canvas.drawRect(r.left, ty - th - 4, r.left + tw + 8, ty, textBg);
            canvas.drawText(label, r.left + 4, ty - 4, text);
        }
    }

    void drawStatus(Canvas canvas, String status) {
        if (status == null || status.isEmpty()) return;
        float th = text.getTextSize() + 6, y = th;
        textBg.setColor(0x99000000);
        String[] lines = status.split("\n");
        float w = 0;
        for (String l : lines) w = Math.max(w, text.measureText(l));
        canvas.drawRect(0, 0, w + 16, th * lines.length + 8, textBg);
        for (String l : lines) {
            canvas.drawText(l, 8, y, text);
            y += th;
        }
    }

    static String status(NanoDet.Result r, double fps, String source) {
        return String.format(Locale.ROOT,
                "%s  %d objects%s\npre %.1f ms (yuv/rotate %.1f)  infer %.1f ms  post %.1f ms",
                source, r.count, fps > 0 ? String.format(Locale.ROOT, "  %.1f FPS", fps) : "",
                r.preprocessMs, r.convertMs, r.inferenceMs, r.postprocessMs);
    }
}
