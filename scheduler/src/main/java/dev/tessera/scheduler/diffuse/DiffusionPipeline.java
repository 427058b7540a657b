package dev.tessera.scheduler.diffuse;

import dev.tessera.engine.diffusion.DiffusionEngine;
import dev.tessera.engine.diffusion.sampler.SamplerKind;
import dev.tessera.engine.diffusion.sampler.SchedulerSettings;
import dev.tessera.engine.diffusion.sampler.TorchGenerator;

import java.util.List;

/**
 * What the diffusion lane needs of a pipeline: text encoding, one UNet call over rows of any jobs, VAE decoding, and
 * the scheduler config per sampler. {@link #of(DiffusionEngine)} adapts the engine; tests pass a fake.
 * Called on the loop thread only, except {@link #scheduler}, which input threads call.
 */
public interface DiffusionPipeline {
    String name();

    int latentChannels();

    /** Pixels per latent along each side. */
    int vaeScale();

    /** Image side when the request leaves width/height unset. */
    int defaultSize();

    int contextLength();

    int contextDim();

    /**
     * Bytes the attention of one row of latents {@code h × w} holds (any thread): linear in {@code h·w} where ONNX
     * Runtime's flash attention applies, the materialised scores where it does not (engine README, "Attention").
     */
    long attentionBytes(int h, int w);

    /** Embeddings {@code [P, contextLength, contextDim]} of {@code prompts}. */
    float[] encodeText(List<String> prompts);

    /** Noise prediction {@code [rows, C, h, w]}; one timestep and one embedding per row. */
    float[] denoise(float[] sample, float[] timesteps, float[] context, int rows, int h, int w);

    /**
     * Image-to-image's starting latents {@code [1, C, H/s, W/s]} of one image {@code [1, 3, H, W]} in [−1, 1]: the
     * VAE posterior sampled with {@code generator}, times the scaling factor.
     */
    float[] encodeImage(float[] pixels, int height, int width, TorchGenerator generator);

    /** Images {@code [n, 3, h·s, w·s]} in [0, 1]. */
    float[] decode(float[] latents, int n, int h, int w);

    /** The pipeline's scheduler config as {@code kind} reads it (a {@code CheckpointException} if it cannot). */
    SchedulerSettings scheduler(SamplerKind kind);

    /** The engine as a pipeline. Not owned: the caller closes the engine. */
    static DiffusionPipeline of(DiffusionEngine engine) {
        return new DiffusionPipeline() {
            @Override
            public String name() {
                return engine.info().name();
            }

            @Override
            public int latentChannels() {
                return engine.info().latentChannels();
            }

            @Override
            public int vaeScale() {
                return engine.info().vaeScale();
            }

            @Override
            public int defaultSize() {
                return engine.info().defaultSize();
            }

            @Override
            public int contextLength() {
                return engine.info().contextLength();
            }

            @Override
            public int contextDim() {
                return engine.info().contextDim();
            }

            @Override
            public long attentionBytes(int h, int w) {
                return engine.attentionBytes(h, w);
            }

            @Override
            public float[] encodeText(List<String> prompts) {
                int[][] ids = new int[prompts.size()][];
                for (int i = 0; i < ids.length; i++) ids[i] = engine.tokenizer().encode(prompts.get(i));
                return engine.encodeText(ids);
            }

            @Override
            public float[] denoise(float[] sample, float[] timesteps, float[] context, int rows, int h, int w) {
                return engine.denoise(sample, timesteps, context, rows, h, w);
            }

            @Override
            public float[] encodeImage(float[] pixels, int height, int width, TorchGenerator generator) {
                return engine.encodeImage(pixels, 1, height, width, generator);
            }

            @Override
            public float[] decode(float[] latents, int n, int h, int w) {
                return engine.decode(latents, n, h, w);
            }

            @Override
            public SchedulerSettings scheduler(SamplerKind kind) {
                return engine.scheduler(kind);
            }
        };
    }
}
