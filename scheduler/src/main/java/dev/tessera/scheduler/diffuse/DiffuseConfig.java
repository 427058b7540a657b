package dev.tessera.scheduler.diffuse;

/**
 * Limits of a diffusion lane.
 *
 * @param maxRowsPerStep  UNet rows per step (a job under guidance needs 2 per image); a job larger than the budget
 *                        still runs, alone
 * @param maxSide         largest width or height in pixels
 * @param maxSteps        most denoising steps a job may ask for
 * @param maxImages       most images per job
 * @param defaultSteps    steps when the request leaves them unset
 * @param promptCacheSize prompt encodings kept (LRU)
 * @param previewSide     longest side of a preview, in pixels (previews are never larger than the latents)
 * @param maxAttentionBytes attention memory one step may hold ({@link DiffusionPipeline#attentionBytes} per row:
 *                        linear in the latent positions on ONNX Runtime's flash path, the materialised scores
 *                        without it): a size whose single row needs more is refused, and a step takes no more rows
 *                        than fit (the first job always runs)
 */
public record DiffuseConfig(int maxRowsPerStep, int maxSide, int maxSteps, int maxImages, int defaultSteps,
                            int promptCacheSize, int previewSide, long maxAttentionBytes) {
    public static final DiffuseConfig DEFAULTS = new DiffuseConfig(16, 2048, 200, 8, 25, 64, 128, 1L << 30);

    public DiffuseConfig {
        if (maxRowsPerStep < 1) throw new IllegalArgumentException("maxRowsPerStep must be >= 1");
        if (maxSide < 64) throw new IllegalArgumentException("maxSide must be >= 64");
        if (maxSteps < 1 || defaultSteps < 1 || defaultSteps > maxSteps) {
            throw new IllegalArgumentException("steps limits out of range");
        }
        if (maxImages < 1) throw new IllegalArgumentException("maxImages must be >= 1");
        if (promptCacheSize < 0) throw new IllegalArgumentException("promptCacheSize must be >= 0");
        if (previewSide < 8) throw new IllegalArgumentException("previewSide must be >= 8");
        if (maxAttentionBytes < 1) throw new IllegalArgumentException("maxAttentionBytes must be >= 1");
    }
}
