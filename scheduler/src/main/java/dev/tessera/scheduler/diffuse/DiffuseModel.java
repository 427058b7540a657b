package dev.tessera.scheduler.diffuse;

import dev.tessera.engine.InvalidArgumentException;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.diffusion.ControlImage;
import dev.tessera.engine.diffusion.sampler.Sampler;
import dev.tessera.engine.diffusion.sampler.SamplerKind;
import dev.tessera.engine.diffusion.sampler.Samplers;
import dev.tessera.engine.diffusion.sampler.SchedulerSettings;
import dev.tessera.engine.diffusion.sampler.TorchGenerator;
import dev.tessera.engine.image.DecodedImage;
import dev.tessera.engine.image.ImageDecoder;
import dev.tessera.engine.image.ImageFormat;
import dev.tessera.scheduler.core.ImageData;
import dev.tessera.scheduler.core.JobEvent;
import dev.tessera.scheduler.core.JobException;
import dev.tessera.scheduler.core.JobFailure;
import dev.tessera.scheduler.core.Listeners;
import dev.tessera.scheduler.core.ModelCard;
import dev.tessera.scheduler.core.ModelKind;
import dev.tessera.scheduler.core.ServedModel;
import dev.tessera.scheduler.serving.Serving;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import reactor.core.publisher.Flux;
import reactor.core.publisher.FluxSink;

import java.security.SecureRandom;
import java.util.List;
import java.util.Objects;

/**
 * One served diffusion pipeline: requests checked and prepared on the input threads (every bad field is
 * INVALID_ARGUMENT naming it; the initial latents are drawn there from the seed), denoised by its
 * {@link DiffuseLane} on the loop, previews and images encoded on the output threads. A job's Flux is cold:
 * subscribing prepares and submits it; it emits {@link JobEvent.Preview}s, one {@link JobEvent.Image} per image
 * (PNG, with the seed), one {@link JobEvent.Finished} per image, or one {@link JobEvent.Error}; it never errors.
 * Image-to-image: {@code init_image} (PNG, JPEG or RGB8, of the output size) is encoded by the VAE on the loop and
 * noised to the start step of {@code strength}, as {@code StableDiffusionImg2ImgPipeline}. ControlNet (a pipeline
 * with one): {@code control_image} (PNG, JPEG or RGB8, any size) is decoded and resized to the output size here, as
 * {@code StableDiffusionControlNetPipeline.prepare_image}, and {@code control_scale} (default 1) scales its
 * residuals; both go with the job to the lane.
 */
public final class DiffuseModel implements ServedModel {
    private static final Logger logger = LoggerFactory.getLogger(DiffuseModel.class);
    private static final int MIN_SIDE = 64;
    /** Image-to-image strength when the request leaves it unset (diffusers' default). */
    private static final float DEFAULT_STRENGTH = 0.8f;

    private final DiffusionPipeline pipeline;
    private final DiffuseConfig config;
    private final ModelCard card;
    private final DiffuseLane lane;
    private final SecureRandom seeds = new SecureRandom();
    private final ImageDecoder imageDecoder;

    /**
     * @param pipeline  runs the model; not owned
     * @param config    the lane's limits
     * @param listeners told about steps and finished images
     */
    public DiffuseModel(DiffusionPipeline pipeline, DiffuseConfig config, Listeners listeners) {
        this.pipeline = Objects.requireNonNull(pipeline, "pipeline");
        this.config = Objects.requireNonNull(config, "config");
        this.card = new ModelCard(pipeline.name(), ModelKind.DIFFUSION, pipeline.hasControlNet()
                ? "StableDiffusionControlNetPipeline" : "StableDiffusionPipeline", false, 0, 0, List.of());
        this.lane = new DiffuseLane(pipeline, config, listeners);
        this.imageDecoder = new ImageDecoder((long) config.maxSide() * config.maxSide());
    }

    @Override
    public ModelCard card() {
        return card;
    }

    @Override
    public DiffuseLane lane() {
        return lane;
    }

    @Override
    public DiffuseStats stats() {
        return lane.stats();
    }

    /** A text-to-image job: subscribing checks and prepares {@code request}, then submits it to the loop. */
    public Flux<JobEvent> diffuse(DiffuseRequest request, Serving serving) {
        Objects.requireNonNull(request, "request");
        return Flux.defer(() -> {
            long arrival = System.nanoTime();
            Flux<DiffuseEvent> raw = serving.input().prepare(() -> prepare(request))
                    .flatMapMany(p -> Flux.<DiffuseEvent>create(sink -> submit(p, sink, arrival, serving),
                            FluxSink.OverflowStrategy.BUFFER));
            return serving.output().publish(raw).map(DiffuseEvent::encode).onErrorResume(DiffuseModel::asError);
        });
    }

    private void submit(DenoiseJob.Prepared p, FluxSink<DiffuseEvent> sink, long arrival, Serving serving) {
        DenoiseJob job = new DenoiseJob(sink, arrival, p);
        try {
            serving.loop().submit(lane, job);
        } catch (JobException e) {
            sink.error(e);
        }
    }

    /**
     * Checks every field and draws the initial latents; runs on an input thread.
     *
     * @throws JobException INVALID_ARGUMENT naming the field
     */
    DenoiseJob.Prepared prepare(DiffuseRequest r) {
        if (!r.model().isEmpty() && !r.model().equals(card.name())) {
            throw JobFailure.invalid("model", "this model is " + JobFailure.quote(card.name()) + ", not "
                    + JobFailure.quote(r.model())).exception();
        }
        if (r.prompt().isBlank()) throw JobFailure.invalid("prompt", "must not be empty").exception();
        if (r.prompt().length() > 10_000) throw JobFailure.invalid("prompt", "longer than 10000 characters").exception();
        if (r.negativePrompt().length() > 10_000) {
            throw JobFailure.invalid("negative_prompt", "longer than 10000 characters").exception();
        }
        if (r.strength() != null && r.initImage() == null) {
            throw JobFailure.invalid("strength", "is only allowed with init_image").exception();
        }
        if (r.controlScale() != null && r.controlImage() == null) {
            throw JobFailure.invalid("control_scale", "is only allowed with control_image").exception();
        }
        float controlScale = r.controlScale() == null ? 1f : r.controlScale();
        if (!Float.isFinite(controlScale) || controlScale < 0) {
            throw JobFailure.invalid("control_scale", "must be finite and >= 0, got " + controlScale).exception();
        }
        if (r.controlImage() != null && !pipeline.hasControlNet()) {
            throw JobFailure.invalid("control_image", "model " + JobFailure.quote(card.name()) + " has no ControlNet "
                    + "(serve it with --controlnet PATH, or a pipeline with a controlnet/ folder)").exception();
        }
        float strength = r.strength() == null ? DEFAULT_STRENGTH : r.strength();
        if (!(strength > 0 && strength <= 1)) {
            throw JobFailure.invalid("strength", "must be in (0, 1], got " + strength).exception();
        }
        DecodedImage init = r.initImage() == null ? null : decode(r.initImage(), "init_image");
        DecodedImage controlImage = r.controlImage() == null ? null : decode(r.controlImage(), "control_image");
        int scale = pipeline.vaeScale();
        int width = side("width", r.width() != null ? r.width() : init != null ? (Integer) init.width() : null, scale);
        int height = side("height", r.height() != null ? r.height() : init != null ? (Integer) init.height() : null,
                scale);
        if (init != null && (init.width() != width || init.height() != height)) {
            throw JobFailure.invalid("init_image", "is " + init.width() + "x" + init.height() + " but the image asked "
                    + "for is " + width + "x" + height + "; leave width and height unset or equal to the image's "
                    + "(resizing is not supported)").exception();
        }
        int steps = r.steps() == null ? config.defaultSteps() : r.steps();
        if (steps < 1 || steps > config.maxSteps()) {
            throw JobFailure.invalid("steps", "must be in 1.." + config.maxSteps() + ", got " + steps).exception();
        }
        float guidance = r.guidanceScale() == null ? 7.5f : r.guidanceScale();
        if (!Float.isFinite(guidance) || guidance < 0 || guidance > 100) {
            throw JobFailure.invalid("guidance_scale", "must be finite and in [0, 100], got " + guidance).exception();
        }
        int images = r.numImages() == null ? 1 : r.numImages();
        if (images < 1 || images > config.maxImages()) {
            throw JobFailure.invalid("num_images", "must be in 1.." + config.maxImages() + ", got " + images)
                    .exception();
        }
        if (r.previewEvery() < 0 || r.previewEvery() > steps) {
            throw JobFailure.invalid("preview_every", "must be in 0..steps (" + steps + "), got " + r.previewEvery())
                    .exception();
        }
        String samplerName = r.sampler() == null ? SamplerKind.EULER.apiName : r.sampler();
        SamplerKind kind = SamplerKind.byName(samplerName).orElseThrow(() -> JobFailure.invalid("sampler",
                "unknown sampler " + JobFailure.quote(samplerName)).exception());
        SchedulerSettings settings;
        try {
            settings = pipeline.scheduler(kind);
        } catch (CheckpointException e) {
            throw JobFailure.invalid("sampler", "this model cannot use " + kind.apiName + ": " + e.getMessage())
                    .exception();
        }
        int h = height / scale;
        int w = width / scale;
        long attention = pipeline.attentionBytes(h, w);
        if (attention > config.maxAttentionBytes()) {
            throw JobFailure.invalid("width", width + "x" + height + " needs " + (attention >> 20) + " MiB of "
                    + "attention scores per image, more than this server allows (" + (config.maxAttentionBytes() >> 20)
                    + " MiB); ask for a smaller image").exception();
        }
        int elements = images * pipeline.latentChannels() * h * w;
        Sampler sampler;
        try {
            sampler = Samplers.create(settings, steps, elements);
        } catch (IllegalArgumentException e) {
            throw JobFailure.invalid("steps", e.getMessage()).exception();
        }
        // resized to the output size on this input thread, as diffusers' ControlNet pipeline prepares it
        float[] control = controlImage == null ? null : ControlImage.prepare(controlImage, width, height);
        long seed = r.seed() != null ? r.seed() : seeds.nextLong() & Long.MAX_VALUE;
        TorchGenerator generator = new TorchGenerator(seed);
        float[] latents = new float[elements];
        if (init != null) {
            // the lane encodes the image (it owns the VAE) and draws the posterior sample and the noise from the
            // generator, in diffusers' order
            return new DenoiseJob.Prepared(r.prompt(), r.negativePrompt(), images, h, w, guidance, seed,
                    r.previewEvery(), sampler, generator, latents, pixels(init), Sampler.startStep(steps, strength),
                    control, controlScale);
        }
        generator.randn(latents);
        float sigma = sampler.initNoiseSigma();
        for (int i = 0; i < latents.length; i++) latents[i] *= sigma;
        return new DenoiseJob.Prepared(r.prompt(), r.negativePrompt(), images, h, w, guidance, seed,
                r.previewEvery(), sampler, generator, latents, null, 0, control, controlScale);
    }

    private DecodedImage decode(ImageData image, String field) {
        if (image.width() > Integer.MAX_VALUE || image.height() > Integer.MAX_VALUE) {
            throw JobFailure.invalid(field, "width or height out of range").exception();
        }
        ImageFormat format = switch (image.format()) {
            case UNSPECIFIED -> ImageFormat.UNSPECIFIED;
            case PNG -> ImageFormat.PNG;
            case JPEG -> ImageFormat.JPEG;
            case RGB8 -> ImageFormat.RGB8;
        };
        try {
            return imageDecoder.decode(image.data(), format, (int) image.width(), (int) image.height(), field);
        } catch (InvalidArgumentException e) {
            String detail = e.getMessage().startsWith(e.field() + ": ")
                    ? e.getMessage().substring(e.field().length() + 2) : e.getMessage();
            throw JobFailure.invalid(e.field(), detail).exception();
        }
    }

    /** RGB8 to planar {@code [3, H, W]} in [−1, 1], as diffusers' image processor: {@code 2 · (v / 255) − 1}. */
    private static float[] pixels(DecodedImage img) {
        int plane = img.width() * img.height();
        float[] out = new float[3 * plane];
        byte[] rgb = img.rgb();
        for (int p = 0; p < plane; p++) {
            for (int c = 0; c < 3; c++) out[c * plane + p] = 2f * ((rgb[3 * p + c] & 0xff) / 255f) - 1f;
        }
        return out;
    }

    private int side(String field, Integer value, int scale) {
        int v = value == null ? Math.max(MIN_SIDE, pipeline.defaultSize()) : value;
        if (v < MIN_SIDE || v > config.maxSide() || v % 8 != 0 || v % scale != 0) {
            throw JobFailure.invalid(field, "must be a multiple of 8 in [" + MIN_SIDE + ", " + config.maxSide()
                    + "], got " + v).exception();
        }
        return v;
    }

    private static Flux<JobEvent> asError(Throwable t) {
        if (t instanceof JobException e) return Flux.just(new JobEvent.Error(e.failure()));
        logger.error("diffusion job failed", t);
        return Flux.just(new JobEvent.Error(JobFailure.of(JobFailure.Code.INTERNAL, "internal error: " + t)));
    }
}
