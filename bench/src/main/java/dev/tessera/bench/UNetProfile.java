package dev.tessera.bench;

import dev.tessera.engine.diffusion.DiffusionEngine;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Where a diffusion step's time goes as it batches: one UNet call of {@code rows} rows at each image size, timed
 * directly on the engine (no scheduler), so the closing note can show how time per row scales with rows per call.
 * When one row already keeps every core busy, time grows linearly with rows and step batching can only save the
 * per-call overheads.
 */
final class UNetProfile {
    /** Calls timed per point (after one warm-up call); the best is kept, since the machines are shared. */
    private static final int CALLS = 3;

    interface Log {
        void log(String format, Object... args);
    }

    private UNetProfile() {
    }

    /**
     * @param sizes image sizes {@code WxH} in pixels
     * @param rows  rows per call to measure; empty = none
     * @return per size and row count: {@code size}, {@code rows}, {@code ms} (per call), {@code ms_per_row},
     *         {@code row_speedup} (time per row of the first row count, 1 by default, over this time per row)
     */
    static List<Map<String, Object>> measure(DiffusionEngine engine, List<String> sizes, List<Integer> rows, Log log) {
        List<Map<String, Object>> out = new ArrayList<>();
        if (rows == null || rows.isEmpty()) return out;
        int channels = engine.info().latentChannels();
        int scale = engine.info().vaeScale();
        int ctx = engine.info().contextLength() * engine.info().contextDim();
        Random random = new Random(7);
        for (String size : sizes) {
            String[] wh = size.split("x");
            int w = Integer.parseInt(wh[0].trim()) / scale;
            int h = Integer.parseInt(wh[1].trim()) / scale;
            double single = 0;
            for (int r : rows) {
                if (r < 1) throw new IllegalArgumentException("--profile-rows must be positive, got " + r);
                float[] sample = gaussian(random, r * channels * h * w);
                float[] context = gaussian(random, r * ctx);
                float[] timesteps = new float[r];
                for (int i = 0; i < r; i++) timesteps[i] = 999 - 50 * i;
                engine.denoise(sample, timesteps, context, r, h, w);
                double best = Double.MAX_VALUE;
                for (int c = 0; c < CALLS; c++) {
                    long t0 = System.nanoTime();
                    engine.denoise(sample, timesteps, context, r, h, w);
                    best = Math.min(best, (System.nanoTime() - t0) / 1e6);
                }
                double perRow = best / r;
                if (single == 0) single = perRow;
                Map<String, Object> point = new LinkedHashMap<>();
                point.put("size", size.trim());
                point.put("latent", w + "x" + h);
                point.put("rows", r);
                point.put("ms", round2(best));
                point.put("ms_per_row", round2(perRow));
                point.put("row_speedup", round2(single / perRow));
                out.add(point);
                log.log("profile %s (latent %dx%d): %d rows %.1f ms, %.1f ms per row", size.trim(), w, h, r, best,
                        perRow);
            }
        }
        return out;
    }

    private static float[] gaussian(Random random, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) random.nextGaussian();
        return a;
    }

    private static double round2(double v) {
        return Math.round(v * 100.0) / 100.0;
    }
}
