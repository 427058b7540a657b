/**
 * The vision side of vision-language models (Qwen2-VL, Qwen2.5-VL and dense Qwen3-VL,
 * {@link dev.tessera.engine.vision.VisionFamily}):
 * {@link dev.tessera.engine.vision.VisionConfig} and {@link dev.tessera.engine.vision.ImageProcessorConfig} (the
 * checkpoint's), {@link dev.tessera.engine.vision.QwenImageProcessor} (smart resize, Pillow's bicubic, rescale,
 * normalize, patchify, as transformers' {@code Qwen2VLImageProcessor}), {@link
 * dev.tessera.engine.vision.VisionConverter} (the vision tower as segment graphs split at attention, the family's norms
 * and MLP from its {@code VisionBlockGraph}) and {@link dev.tessera.engine.vision.VisionEncoder} (the patches of every
 * image of a step packed with no padding, bidirectional attention per image, or per window of Qwen2.5-VL's
 * {@link dev.tessera.engine.vision.WindowAttention}), and {@link dev.tessera.engine.vision.MropePositions}
 * (transformers' {@code get_rope_index}). Qwen3-VL's tower has its own converter ({@link
 * dev.tessera.engine.vision.Qwen3VisionConverter}: learned position embeddings interpolated per image by {@link
 * dev.tessera.engine.vision.PositionInterpolation}, DeepStack mergers) and runs in the same encoder.
 */
@NullMarked
package dev.tessera.engine.vision;

import org.jspecify.annotations.NullMarked;
