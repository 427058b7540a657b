/**
 * Text-to-image diffusion: a diffusers pipeline directory ({@link dev.tessera.engine.diffusion.DiffusersLayout}) converted in Java to ONNX graphs (CLIP text encoder, UNet with one timestep per batch row, VAE) and run on ONNX Runtime, with the samplers in Java.
 */
@NullMarked
package dev.tessera.engine.diffusion;

import org.jspecify.annotations.NullMarked;
