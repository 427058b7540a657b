package dev.tessera.engine.vision;

import java.util.Arrays;
import java.util.List;

/**
 * Qwen2.5-VL's window order for the patches of one packed call, as transformers' {@code get_vision_window_index}
 * (5.24) makes it: each image's merge groups (2x2 patches, kept together) are cut into square windows of
 * {@code window} groups per side, row-major over the windows and row-major inside each, the windows at the right and
 * bottom edges cut short; each frame and each image is planned after the previous ones, so every image's rows stay
 * one contiguous span. The vision tower runs on the rows in this order: windowed blocks attend within
 * {@link #cu()}'s spans, full-attention blocks within each image, and the merged output is put back in the original
 * order ({@link #slots()}).
 *
 * <p>Holds its arrays between calls and grows them only for a larger call. Not thread-safe: the encoder's.
 */
final class WindowPlan {
    private final int window;
    private final int mergeSize;
    private final int group;
    private int[] order = new int[0];
    private int[] slots = new int[0];
    private int[] cu = new int[1];
    private int windows;
    private int groups;

    /**
     * @param window    merge groups per window side ({@link WindowAttention#mergedWindow})
     * @param mergeSize patches merged per side into one group
     */
    WindowPlan(int window, int mergeSize) {
        if (window < 1 || mergeSize < 1) throw new IllegalArgumentException("window and merge size must be >= 1");
        this.window = window;
        this.mergeSize = mergeSize;
        this.group = mergeSize * mergeSize;
    }

    /** Plans the images of one call, in the order the encoder packs them. */
    void plan(List<VisionImage> images) {
        int total = 0;
        int maxWindows = 0;
        for (VisionImage im : images) {
            int lh = im.gridH() / mergeSize;
            int lw = im.gridW() / mergeSize;
            total += im.gridT() * lh * lw;
            maxWindows += im.gridT() * ceil(lh) * ceil(lw);
        }
        if (order.length < total) {
            order = new int[total];
            slots = new int[total];
        }
        if (cu.length < maxWindows + 1) cu = new int[maxWindows + 1];
        int slot = 0;
        int base = 0;
        windows = 0;
        cu[0] = 0;
        for (VisionImage im : images) {
            int lh = im.gridH() / mergeSize;
            int lw = im.gridW() / mergeSize;
            for (int t = 0; t < im.gridT(); t++) {
                int frame = base + t * lh * lw;
                for (int wy = 0; wy < lh; wy += window) {
                    for (int wx = 0; wx < lw; wx += window) {
                        for (int y = wy; y < Math.min(lh, wy + window); y++) {
                            for (int x = wx; x < Math.min(lw, wx + window); x++) {
                                int g = frame + y * lw + x;
                                order[slot] = g;
                                slots[g] = slot;
                                slot++;
                            }
                        }
                        cu[++windows] = slot * group;
                    }
                }
            }
            base += im.gridT() * lh * lw;
        }
        groups = total;
    }

    private int ceil(int merged) {
        return (merged + window - 1) / window;
    }

    /** Windows of the last plan: the spans of the windowed blocks. */
    int windows() {
        return windows;
    }

    /** {@code cu_window_seqlens}: window {@code i} is rows {@code [cu[i], cu[i+1])}; {@code windows() + 1} used. */
    int[] cu() {
        return cu;
    }

    /** {@code window_index}: the original merge group at each position of the window order; {@link #groups()} used. */
    int[] order() {
        return order;
    }

    /** The inverse of {@link #order()}: the position in window order of each original merge group. */
    int[] slots() {
        return slots;
    }

    /** Merge groups of the last plan. */
    int groups() {
        return groups;
    }

    @Override
    public String toString() {
        return "WindowPlan[groups=" + groups + ", windows=" + windows + ", cu="
                + Arrays.toString(Arrays.copyOf(cu, windows + 1)) + "]";
    }
}
