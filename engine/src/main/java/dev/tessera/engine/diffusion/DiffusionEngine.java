package dev.tessera.engine.diffusion;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.diffusion.DiffusersLayout.Component;
import dev.tessera.engine.diffusion.OrtGraph.Input;
import dev.tessera.engine.diffusion.clip.ClipTextConfig;
import dev.tessera.engine.diffusion.clip.ClipTextGraph;
import dev.tessera.engine.diffusion.clip.ClipTokenizer;
import dev.tessera.engine.diffusion.convert.FlashAttention;
import dev.tessera.engine.diffusion.convert.JsonConfig;
import dev.tessera.engine.diffusion.convert.Layers;
import dev.tessera.engine.diffusion.sampler.SamplerKind;
import dev.tessera.engine.diffusion.sampler.SchedulerSettings;
import dev.tessera.engine.diffusion.sampler.TorchGenerator;
import dev.tessera.engine.diffusion.unet.UNetConfig;
import dev.tessera.engine.diffusion.unet.UNetGraph;
import dev.tessera.engine.diffusion.vae.VaeConfig;
import dev.tessera.engine.diffusion.vae.VaeGraphs;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;

/**
 * A Stable Diffusion pipeline loaded for serving: the CLIP tokenizer, and the text encoder, UNet and VAE decoder
 * converted to graphs and open in ONNX Runtime. The callers (the scheduler's diffusion lane, tests) drive the
 * denoising loop: {@link #encodeText} once per prompt, {@link #denoise} once per step over the rows of every
 * running job (each row with its own timestep and text embedding), {@link #decode} for finished latents.
 *
 * <p>Not thread-safe: one caller at a time (the scheduler's loop). Owns the tokenizer and the sessions:
 * {@link #close()} it; a load that fails halfway closes what it opened.
 */
public final class DiffusionEngine implements AutoCloseable {
    private static final Logger logger = LoggerFactory.getLogger(DiffusionEngine.class);

    private final DiffusionInfo info;
    private final ClipTokenizer tokenizer;
    private final OrtGraph textEncoder;
    private final OrtGraph unet;
    private final OrtGraph vaeDecoder;
    private final OrtGraph vaeEncoder;
    private final JsonNode schedulerConfig;
    private final DiffusersLayout layout;
    private final ClipTextConfig clip;
    private final UNetConfig unetConfig;
    private final VaeConfig vaeConfig;
    private final boolean flash = FlashAttention.available();

    private DiffusionEngine(DiffusionInfo info, ClipTokenizer tokenizer, OrtGraph textEncoder, OrtGraph unet,
                            OrtGraph vaeDecoder, OrtGraph vaeEncoder, JsonNode schedulerConfig,
                            DiffusersLayout layout,
                            ClipTextConfig clip, UNetConfig unetConfig, VaeConfig vaeConfig) {
        this.info = info;
        this.tokenizer = tokenizer;
        this.textEncoder = textEncoder;
        this.unet = unet;
        this.vaeDecoder = vaeDecoder;
        this.vaeEncoder = vaeEncoder;
        this.schedulerConfig = schedulerConfig;
        this.layout = layout;
        this.clip = clip;
        this.unetConfig = unetConfig;
        this.vaeConfig = vaeConfig;
        if (!flash) {
            logger.warn("{}: ONNX Runtime's MultiHeadAttention will not take its flash path on this host (no L2 cache "
                    + "size in sysfs, or ORT_DISABLE_FLASH_ATTENTION set): attention scores are materialised, and "
                    + "attentionBytes counts them", info.name());
        }
    }

    /**
     * Opens, checks and converts (or reuses the cached conversion of) {@code options.modelDir()}.
     *
     * @throws CheckpointException naming the file (and tensor) when the pipeline cannot be served
     */
    public static DiffusionEngine load(DiffusionOptions options) {
        DiffusersLayout layout = DiffusersLayout.open(options.modelDir());
        ClipTextConfig clip = ClipTextConfig.read(layout.configFile(Component.TEXT_ENCODER));
        UNetConfig unetConfig = UNetConfig.read(layout.configFile(Component.UNET));
        VaeConfig vae = VaeConfig.read(layout.configFile(Component.VAE));
        JsonNode scheduler = layout.config(Component.SCHEDULER);
        if (unetConfig.crossDim() != clip.hidden()) {
            throw new CheckpointException(layout.configFile(Component.UNET), null, "cross_attention_dim "
                    + unetConfig.crossDim() + " differs from the text encoder's hidden_size " + clip.hidden());
        }
        if (unetConfig.inChannels() != vae.latentChannels() || unetConfig.outChannels() != vae.latentChannels()) {
            throw new CheckpointException(layout.configFile(Component.UNET), null, "in/out_channels differ from "
                    + "the VAE's latent_channels " + vae.latentChannels());
        }
        int sampleSize = JsonConfig.read(layout.configFile(Component.UNET)).intOr("sample_size", 64);
        DiffusionConverter.Converted graphs = DiffusionConverter.convert(layout, clip, unetConfig, vae,
                options.cacheDir());
        List<AutoCloseable> opened = new ArrayList<>();
        try {
            ClipTokenizer tokenizer = ClipTokenizer.load(layout.folder(Component.TOKENIZER));
            opened.add(tokenizer);
            if (tokenizer.maxLength() != clip.maxPositions()) {
                throw new CheckpointException(layout.folder(Component.TOKENIZER).resolve("tokenizer_config.json"),
                        null, "model_max_length " + tokenizer.maxLength() + " differs from the text encoder's "
                        + "max_position_embeddings " + clip.maxPositions());
            }
            OrtGraph te = OrtGraph.open(graphs.textEncoder(), options.threads());
            opened.add(te);
            OrtGraph un = OrtGraph.open(graphs.unet(), options.threads());
            opened.add(un);
            OrtGraph dec = OrtGraph.open(graphs.vaeDecoder(), options.threads());
            opened.add(dec);
            OrtGraph enc = OrtGraph.open(graphs.vaeEncoder(), options.threads());
            opened.add(enc);
            DiffusionInfo info = new DiffusionInfo(options.name(),
                    vae.latentChannels(), vae.scale(), sampleSize * vae.scale(), clip.maxPositions(), clip.hidden());
            return new DiffusionEngine(info, tokenizer, te, un, dec, enc, scheduler, layout, clip, unetConfig, vae);
        } catch (RuntimeException e) {
            for (AutoCloseable c : opened) {
                try {
                    c.close();
                } catch (Exception suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
    }

    public DiffusionInfo info() {
        return info;
    }

    public ClipTokenizer tokenizer() {
        return tokenizer;
    }

    /**
     * Bytes the attention of one image row holds for latents of {@code h × w}, beyond the graphs' other activations:
     * the most of the UNet's attention levels and the VAE's single-head mid-block attention over every latent
     * position. With ONNX Runtime's flash path ({@link FlashAttention}, checked at load) that is the transposed
     * q/k/v copies, linear in the positions; without it, the materialised scores, quadratic. Callers bound requests
     * and steps by it.
     */
    public long attentionBytes(int h, int w) {
        long t = (long) h * w;
        long vae = 0;
        if (vaeConfig.midAttention()) {
            long ch = vaeConfig.blockOut()[vaeConfig.blockOut().length - 1];
            vae = flash ? Layers.FLASH_COPIES * t * ch * Float.BYTES : t * t * Float.BYTES;
        }
        return Math.max(unetConfig.attentionBytes(h, w, flash), vae);
    }

    /** Whether attention runs on ONNX Runtime's flash path here (else its scores are materialised). */
    public boolean flashAttention() {
        return flash;
    }

    /** The pipeline's scheduler config as {@code kind} reads it. */
    public SchedulerSettings scheduler(SamplerKind kind) {
        return SchedulerSettings.read(schedulerConfig, layout.configFile(Component.SCHEDULER), kind);
    }

    /** Text embeddings {@code [P, L, D]} of {@code ids.length} tokenized prompts. */
    public float[] encodeText(int[][] ids) {
        int len = clip.maxPositions();
        long[] flat = new long[ids.length * len];
        for (int p = 0; p < ids.length; p++) {
            if (ids[p].length != len) throw new IllegalArgumentException("prompt " + p + " has " + ids[p].length
                    + " ids, not " + len);
            for (int i = 0; i < len; i++) flat[p * len + i] = ids[p][i];
        }
        return textEncoder.run(Input.longs(ClipTextGraph.IDS, flat, ids.length, len));
    }

    /**
     * One UNet call over {@code rows} rows: {@code sample [rows, C, h, w]}, one timestep per row, and per row its text
     * embedding {@code [rows, L, D]}; returns the noise prediction {@code [rows, C, h, w]}.
     */
    public float[] denoise(float[] sample, float[] timesteps, float[] context, int rows, int h, int w) {
        return unet.run(Input.floats(UNetGraph.SAMPLE, sample, rows, info.latentChannels(), h, w),
                Input.floats(UNetGraph.TIMESTEP, timesteps, rows),
                Input.floats(UNetGraph.CONTEXT, context, rows, info.contextLength(), info.contextDim()));
    }

    /** Images {@code [n, 3, h·s, w·s]} in [0, 1] of {@code n} final latents {@code [n, C, h, w]}. */
    public float[] decode(float[] latents, int n, int h, int w) {
        return vaeDecoder.run(Input.floats(VaeGraphs.LATENTS, latents, n, info.latentChannels(), h, w));
    }

    /**
     * Image-to-image's starting latents {@code [n, C, H/s, W/s]} of {@code n} images {@code [n, 3, H, W]} in
     * [−1, 1]: the VAE encoder's posterior sampled with {@code generator} ({@code mean + exp(logvar / 2) · randn},
     * log-variance clamped to [−30, 20]), times the scaling factor, as diffusers' {@code retrieve_latents} then
     * {@code scaling_factor ·}.
     */
    public float[] encodeImage(float[] pixels, int n, int height, int width,
                               TorchGenerator generator) {
        float[] moments = vaeEncoder.run(Input.floats(VaeGraphs.PIXELS, pixels, n, 3, height, width));
        int c = info.latentChannels();
        int plane = (height / info.vaeScale()) * (width / info.vaeScale());
        float[] latents = new float[n * c * plane];
        generator.randn(latents);
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < c * plane; k++) {
                float mean = moments[i * 2 * c * plane + k];
                float logvar = Math.max(-30f, Math.min(20f, moments[i * 2 * c * plane + c * plane + k]));
                float std = (float) Math.exp(0.5f * logvar);
                int at = i * c * plane + k;
                latents[at] = vaeConfig.scalingFactor() * (mean + std * latents[at]);
            }
        }
        return latents;
    }

    @Override
    public void close() {
        vaeEncoder.close();
        vaeDecoder.close();
        unet.close();
        textEncoder.close();
        tokenizer.close();
    }
}
