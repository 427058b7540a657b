package dev.tessera.engine.diffusion;

import dev.tessera.engine.image.DecodedImage;
import dev.tessera.engine.image.LanczosResize;

/**
 * A ControlNet's conditioning image as diffusers' {@code StableDiffusionControlNetPipeline.prepare_image} makes it
 * from a PIL image: its {@code VaeImageProcessor(do_convert_rgb=True, do_normalize=False)} resizes the RGB image to
 * the output size with Pillow's Lanczos filter (the processor's default {@code resample}), then scales to [0, 1]
 * without normalizing. Stateless.
 */
public final class ControlImage {
    private ControlImage() {
    }

    /** {@code image} resized to {@code width × height}, planar {@code [3, height, width]}, values {@code v / 255}. */
    public static float[] prepare(DecodedImage image, int width, int height) {
        DecodedImage sized = LanczosResize.resize(image, width, height);
        int plane = width * height;
        float[] out = new float[3 * plane];
        byte[] rgb = sized.rgb();
        for (int p = 0; p < plane; p++) {
            for (int c = 0; c < 3; c++) out[c * plane + p] = (rgb[3 * p + c] & 0xff) / 255f;
        }
        return out;
    }
}
