package dev.tessera.engine.vision;

import java.util.Arrays;

/**
 * Qwen2.5-VL's windowed vision attention, from {@code vision_config}: the patches of an image attend within square
 * windows of {@code windowSize} pixels (whole 2x2 merge groups; windows cut by the image's right and bottom edges
 * are smaller), except in the blocks of {@code fullAttentionBlocks}, which attend over the whole image.
 * {@link WindowPlan} orders the patches window by window.
 *
 * @param windowSize          window side in pixels ({@code window_size}, 112 in the published checkpoints)
 * @param fullAttentionBlocks the blocks that attend over the whole image ({@code fullatt_block_indexes})
 */
public record WindowAttention(int windowSize, int[] fullAttentionBlocks) {
    public WindowAttention {
        fullAttentionBlocks = fullAttentionBlocks.clone();
    }

    /** Whether block {@code b} attends over the whole image rather than within windows. */
    public boolean fullAttention(int b) {
        for (int f : fullAttentionBlocks) if (f == b) return true;
        return false;
    }

    /**
     * Merge groups per window side: {@code window_size // merge // patch}, as transformers'
     * {@code get_vision_window_index} computes it.
     */
    public int mergedWindow(int patchSize, int mergeSize) {
        return windowSize / mergeSize / patchSize;
    }

    @Override
    public int[] fullAttentionBlocks() {
        return fullAttentionBlocks.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof WindowAttention w && w.windowSize == windowSize
                && Arrays.equals(w.fullAttentionBlocks, fullAttentionBlocks);
    }

    @Override
    public int hashCode() {
        return 31 * windowSize + Arrays.hashCode(fullAttentionBlocks);
    }

    @Override
    public String toString() {
        return "WindowAttention[windowSize=" + windowSize + ", fullAttentionBlocks="
                + Arrays.toString(fullAttentionBlocks) + "]";
    }
}
