/**
 * {@code AutoencoderKL}: the decoder (latents to pixels) and the encoder (pixels to the posterior mean) as ONNX graphs.
 */
@NullMarked
package dev.tessera.engine.diffusion.vae;

import org.jspecify.annotations.NullMarked;
