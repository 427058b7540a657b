/**
 * {@code UNet2DConditionModel} converted to one ONNX graph taking one timestep per batch row.
 */
@NullMarked
package dev.tessera.engine.diffusion.unet;

import org.jspecify.annotations.NullMarked;
