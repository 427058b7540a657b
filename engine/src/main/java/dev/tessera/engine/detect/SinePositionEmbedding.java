package dev.tessera.engine.detect;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * DETR's sine position embedding of an all-valid {@code h × w} feature map ({@code DetrSinePositionEmbedding} with
 * {@code normalize=True}, temperature 10000, scale 2π), as rows {@code [h·w, d]} in the encoder's token order (y
 * major). Channel {@code c} of the first half encodes y, of the second half x: with {@code n = d/2},
 * {@code t = 10000^(2⌊c/2⌋/n)} and {@code p = pos / (last + 1e-6) · 2π} ({@code pos} counting from 1), even channels
 * are {@code sin(p/t)}, odd ones {@code cos(p/t)}, computed in fp32 as transformers does.
 *
 * <p>Each size is built once and kept (the most recently used {@value #CACHED} sizes). Not thread-safe: owned by the
 * executor.
 */
final class SinePositionEmbedding {
    static final int CACHED = 64;
    private static final float TWO_PI = (float) (2 * Math.PI);

    private final int d;
    private final float[] dimT;
    private final Map<Long, float[]> cache = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, float[]> eldest) {
            return size() > CACHED;
        }
    };

    SinePositionEmbedding(int dModel) {
        if (dModel <= 0 || dModel % 2 != 0) throw new IllegalArgumentException("d_model must be even, got " + dModel);
        this.d = dModel;
        int n = dModel / 2;
        dimT = new float[n];
        for (int c = 0; c < n; c++) {
            float exponent = (2f * (float) Math.floor(c / 2.0)) / n;
            dimT[c] = (float) Math.pow(10000f, exponent);
        }
    }

    /** The {@code [h·w, d]} rows for a feature map of this size (shared array: do not change it). */
    float[] rows(int h, int w) {
        long key = ((long) h << 32) | w;
        float[] rows = cache.get(key);
        if (rows == null) {
            rows = build(h, w);
            cache.put(key, rows);
        }
        return rows;
    }

    private float[] build(int h, int w) {
        int n = d / 2;
        float[] out = new float[h * w * d];
        float[] ys = new float[h * n];
        float[] xs = new float[w * n];
        for (int y = 0; y < h; y++) fill(ys, y * n, (y + 1) / ((float) h + 1e-6f) * TWO_PI);
        for (int x = 0; x < w; x++) fill(xs, x * n, (x + 1) / ((float) w + 1e-6f) * TWO_PI);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int o = (y * w + x) * d;
                System.arraycopy(ys, y * n, out, o, n);
                System.arraycopy(xs, x * n, out, o + n, n);
            }
        }
        return out;
    }

    private void fill(float[] dst, int at, float p) {
        for (int c = 0; c < dimT.length; c++) {
            float v = p / dimT[c];
            dst[at + c] = (float) ((c & 1) == 0 ? Math.sin(v) : Math.cos(v));
        }
    }
}
