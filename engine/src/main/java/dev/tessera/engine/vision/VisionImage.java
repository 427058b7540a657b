package dev.tessera.engine.vision;

import java.util.Objects;

/**
 * One image ready for the vision tower: its patches flattened in the tower's order, as {@code Qwen2VLImageProcessor}
 * makes {@code pixel_values}, and its grid ({@code image_grid_thw}).
 *
 * @param patches {@code [gridT * gridH * gridW, patchDim]} row-major, normalized; patches of one 2x2 merge group
 *                are consecutive
 * @param gridT   temporal patches (1 for a still image)
 * @param gridH   patch rows
 * @param gridW   patch columns
 */
public record VisionImage(float[] patches, int gridT, int gridH, int gridW) {
    public VisionImage {
        Objects.requireNonNull(patches, "patches");
        if (gridT <= 0 || gridH <= 0 || gridW <= 0) throw new IllegalArgumentException("grid must be positive");
    }

    /** Patches (vision tower rows). */
    public int numPatches() {
        return gridT * gridH * gridW;
    }

    /** Tokens the image becomes in the prompt: patches / merge². */
    public int numTokens(int mergeSize) {
        return numPatches() / (mergeSize * mergeSize);
    }
}
