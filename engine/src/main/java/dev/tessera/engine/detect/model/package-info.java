/**
 * What a DETR checkpoint directory declares: {@link dev.tessera.engine.detect.model.DetrConfig} ({@code config.json},
 * both backbone key styles) and {@link dev.tessera.engine.detect.model.DetrImageConfig}
 * ({@code preprocessor_config.json}), validated at load; anything unsupported is a
 * {@link dev.tessera.engine.checkpoint.CheckpointException} naming the file.
 */
@NullMarked
package dev.tessera.engine.detect.model;

import org.jspecify.annotations.NullMarked;
