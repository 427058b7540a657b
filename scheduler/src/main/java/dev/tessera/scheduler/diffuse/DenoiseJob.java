package dev.tessera.scheduler.diffuse;

import dev.tessera.engine.diffusion.sampler.Sampler;
import dev.tessera.engine.diffusion.sampler.TorchGenerator;
import dev.tessera.scheduler.core.Job;
import org.jspecify.annotations.Nullable;
import reactor.core.publisher.FluxSink;

/**
 * One text-to-image job on the loop: its checked request, its sampler and seeded generator, its latents
 * {@code [n, C, h, w]} and guided-noise buffer (sized once), its text embeddings (found by the lane before its first
 * step), its ControlNet control image and scale if it has one, and the step it is at. Only the lane touches it, on the loop thread; a cancel drops the buffers.
 */
final class DenoiseJob extends Job<DiffuseEvent> {
    final String prompt;
    final String negativePrompt;
    final int images;
    final int latentH;
    final int latentW;
    final float guidance;
    final boolean guided;
    final long seed;
    final int previewEvery;
    final Sampler sampler;
    final TorchGenerator generator;
    float[] latents;
    float[] noise;
    /** Image-to-image's starting image {@code [3, H, W]} in [−1, 1] until the lane encodes it; else null. */
    float @Nullable [] initPixels;
    /** The ControlNet's prepared control image {@code [3, H, W]} in [0, 1], or null without ControlNet. */
    float @Nullable [] control;
    final float controlScale;
    float[] cond;
    float[] uncond;
    int step;
    long firstStepNanos;
    int previewsSent;
    int previewsCoalesced;

    DenoiseJob(FluxSink<DiffuseEvent> sink, long arrivalNanos, Prepared p) {
        super(sink, arrivalNanos);
        this.prompt = p.prompt();
        this.negativePrompt = p.negativePrompt();
        this.images = p.images();
        this.latentH = p.latentH();
        this.latentW = p.latentW();
        this.guidance = p.guidance();
        this.guided = p.guidance() > 1f;
        this.seed = p.seed();
        this.previewEvery = p.previewEvery();
        this.sampler = p.sampler();
        this.generator = p.generator();
        this.latents = p.latents();
        this.noise = new float[latents.length];
        this.initPixels = p.initPixels();
        this.control = p.control();
        this.controlScale = p.controlScale();
        this.step = p.startStep();
    }

    /** Rows this job adds to a UNet call: its images, twice under guidance. */
    int rows() {
        return guided ? 2 * images : images;
    }

    boolean done() {
        return step >= sampler.steps();
    }

    /** Frees the buffers (a cancelled or finished job keeps nothing). */
    void release() {
        latents = new float[0];
        noise = new float[0];
        cond = null;
        uncond = null;
        initPixels = null;
        control = null;
    }

    /**
     * A checked request made ready off the loop: for text-to-image the initial latents drawn from the seed and scaled
     * by the sampler's initial sigma; for image-to-image the image's pixels (encoded by the lane, which owns the
     * VAE) and the step it starts at; with ControlNet the control image resized to the output size and its scale.
     */
    record Prepared(String prompt, String negativePrompt, int images, int latentH, int latentW, float guidance,
                    long seed, int previewEvery, Sampler sampler, TorchGenerator generator, float[] latents,
                    float @Nullable [] initPixels, int startStep, float @Nullable [] control, float controlScale) {
    }
}
