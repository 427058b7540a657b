package dev.tessera.engine.vision;

/**
 * Qwen3-VL's learned position embeddings resampled to an image's patch grid: transformers 5.24's
 * {@code get_vision_interpolation_indices_and_weights(mode="bilinear", align_corners=True)}. Each patch at (row, col)
 * of an {@code h x w} grid takes the 2 x 2 table rows around {@code (row * (side-1) / (h-1), col * (side-1) / (w-1))}
 * (clamped to the table), weighted by the bilinear hat, all in fp32 as torch computes it; the graph gathers the 4
 * rows, weights them and sums ({@link Qwen3VisionConverter}).
 *
 * <p>Written by hand (the formula is a few lines) so that the vision graph stays shape-independent: per image only
 * the 4 indices and weights of each patch change, and they are computed here, in the patches' merge-block order.
 */
final class PositionInterpolation {
    /** Taps per patch: 2 rows x 2 columns. */
    static final int TAPS = 4;

    private PositionInterpolation() {
    }

    /**
     * Writes the taps of the patches of a {@code t x h x w} grid, in the tower's patch order (merge groups of
     * {@code merge x merge} patches consecutive; the spatial grid repeated per temporal patch), from row
     * {@code row0} of {@code index} and {@code weight} ({@code [rows, TAPS]} each).
     */
    static void fill(int t, int h, int w, int merge, int side, long[] index, float[] weight, int row0) {
        int r = row0;
        for (int tt = 0; tt < t; tt++) {
            for (int bh = 0; bh < h / merge; bh++) {
                for (int bw = 0; bw < w / merge; bw++) {
                    for (int ih = 0; ih < merge; ih++) {
                        for (int iw = 0; iw < merge; iw++) {
                            int row = bh * merge + ih;
                            int col = bw * merge + iw;
                            float hs = source(row, h, side);
                            float ws = source(col, w, side);
                            float hf = (float) Math.floor(hs);
                            float wf = (float) Math.floor(ws);
                            int o = r * TAPS;
                            for (int a = 0; a < 2; a++) {
                                long hTap = clamp((long) hf + a, side);
                                float hWeight = Math.max(0f, 1f - Math.abs(hs - hf - a));
                                for (int b = 0; b < 2; b++) {
                                    long wTap = clamp((long) wf + b, side);
                                    float wWeight = Math.max(0f, 1f - Math.abs(ws - wf - b));
                                    index[o + a * 2 + b] = hTap * side + wTap;
                                    weight[o + a * 2 + b] = hWeight * wWeight;
                                }
                            }
                            r++;
                        }
                    }
                }
            }
        }
    }

    /** {@code index * (side - 1) / max(size - 1, 1)} in fp32: align_corners maps the ends onto the table's ends. */
    static float source(int index, int size, int side) {
        return (float) index * (side - 1) / Math.max(size - 1, 1);
    }

    private static long clamp(long tap, int side) {
        return Math.min(Math.max(tap, 0), side - 1);
    }
}
