/**
 * Shared conversion pieces: checked weights written once to an external-data file, and the layers (convolution, GroupNorm, LayerNorm, attention) the UNet, VAE and CLIP graphs are made of.
 */
@NullMarked
package dev.tessera.engine.diffusion.convert;

import org.jspecify.annotations.NullMarked;
