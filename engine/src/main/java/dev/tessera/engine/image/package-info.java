/**
 * Images for the vision kinds (detection now; VLM and diffusion later): {@link dev.tessera.engine.image.ImageDecoder}
 * turns PNG, JPEG or raw RGB8 bytes into a {@link dev.tessera.engine.image.DecodedImage}, refusing bad input with an
 * {@link dev.tessera.engine.InvalidArgumentException} that names the request field (and refusing too many pixels
 * from the header, before the pixel data is decoded); {@link dev.tessera.engine.image.BilinearResize} resizes
 * exactly as PIL's antialiased bilinear filter does on 8-bit images; {@link dev.tessera.engine.image.ResizeTarget}
 * is Hugging Face's output-size arithmetic (shortest/longest edge).
 */
@NullMarked
package dev.tessera.engine.image;

import org.jspecify.annotations.NullMarked;
