/**
 * DETR object detection: {@link dev.tessera.engine.detect.DetrEngine#load} turns a Hugging Face
 * {@code DetrForObjectDetection} checkpoint into ONNX graphs and runs steps of many frames of different sizes with
 * no padding. {@link dev.tessera.engine.detect.DetrPreprocessor} decodes and prepares images off the scheduler
 * thread (equal to {@code DetrImageProcessor}), {@link dev.tessera.engine.detect.DetrBatch} carries one step's
 * frames and results, and {@link dev.tessera.engine.detect.DetrPostprocessor} turns a frame's logits and boxes into
 * {@link dev.tessera.engine.detect.Detection}s (equal to {@code post_process_object_detection}).
 * Sub-packages: {@code model} (config files), {@code convert} (checkpoint to graphs).
 */
@NullMarked
package dev.tessera.engine.detect;

import org.jspecify.annotations.NullMarked;
