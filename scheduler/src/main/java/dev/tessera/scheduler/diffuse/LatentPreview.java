package dev.tessera.scheduler.diffuse;

/**
 * A cheap preview of latents being denoised: the linear latent-to-RGB projection of the SD 1.x/2.x latent space (the
 * factors ComfyUI and the SD web UIs use), one RGB pixel per latent position, subsampled to at most
 * {@code maxSide} pixels a side. No VAE call; a few multiply-adds per pixel on the loop thread.
 */
final class LatentPreview {
    /** RGB contribution of each of the 4 latent channels (rows: channel; columns: R, G, B). */
    private static final float[][] SD_FACTORS = {
        {0.3512f, 0.2297f, 0.3227f},
        {0.3250f, 0.4974f, 0.2350f},
        {-0.2829f, 0.1762f, 0.2721f},
        {-0.2120f, -0.2616f, -0.7177f},
    };

    private LatentPreview() {
    }

    /** Side of the preview for a latent side {@code n}, subsampled by an integer factor to at most {@code max}. */
    static int stride(int h, int w, int max) {
        return Math.max(1, (Math.max(h, w) + max - 1) / max);
    }

    /**
     * RGB8 (interleaved) of image {@code image} of {@code latents [n, C, h, w]}, every {@code stride}-th position.
     * Channels past the fourth are ignored; fewer than four contribute what they have.
     */
    static byte[] rgb(float[] latents, int image, int channels, int h, int w, int stride) {
        int ph = (h + stride - 1) / stride;
        int pw = (w + stride - 1) / stride;
        byte[] out = new byte[3 * ph * pw];
        int plane = h * w;
        int base = image * channels * plane;
        int used = Math.min(channels, SD_FACTORS.length);
        for (int y = 0; y < ph; y++) {
            for (int x = 0; x < pw; x++) {
                int at = (y * stride) * w + x * stride;
                for (int c = 0; c < 3; c++) {
                    float v = 0;
                    for (int k = 0; k < used; k++) v += latents[base + k * plane + at] * SD_FACTORS[k][c];
                    float u = Math.max(0f, Math.min(1f, (v + 1f) / 2f));
                    out[3 * (y * pw + x) + c] = (byte) Math.rint(u * 255f);
                }
            }
        }
        return out;
    }

    static int side(int n, int stride) {
        return (n + stride - 1) / stride;
    }
}
