/**
 * The CLIP text side of a pipeline: {@code tokenizer/} (vocab.json + merges.txt) and {@code text_encoder/} converted to one ONNX graph.
 */
@NullMarked
package dev.tessera.engine.diffusion.clip;

import org.jspecify.annotations.NullMarked;
