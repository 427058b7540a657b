package dev.tessera.engine.text;

import dev.tessera.engine.attention.AttentionWarmup;
import dev.tessera.engine.attention.AttentionWorkers;
import dev.tessera.engine.attention.PagedAttention;
import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.text.convert.SegmentConverter;
import dev.tessera.engine.text.model.ModelConfig;
import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.engine.text.runtime.ModelExecutor;
import dev.tessera.engine.text.runtime.OrtModelExecutor;
import dev.tessera.engine.text.tokenizer.HfTokenizer;
import dev.tessera.engine.text.tokenizer.Tokenizer;
import dev.tessera.engine.text.tokenizer.TokenizerConfig;
import dev.tessera.engine.vision.ImageProcessorConfig;
import dev.tessera.engine.vision.Qwen3VisionConverter;
import dev.tessera.engine.vision.QwenImageProcessor;
import dev.tessera.engine.vision.VisionConfig;
import dev.tessera.engine.vision.VisionConverter;
import dev.tessera.engine.vision.VisionEncoder;
import dev.tessera.engine.vision.VisionFamily;
import dev.tessera.engine.vision.VisionModel;
import dev.tessera.kvcache.KvCacheSpec;
import dev.tessera.kvcache.KvStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * A loaded decoder model, ready to serve: its {@link ModelInfo}, {@link Tokenizer}, the {@link ModelExecutor} that
 * runs packed steps, and the paged {@link KvStore} the executor writes and attends over.
 *
 * <p>{@link #load} does all the checking up front: the configuration, every tensor's presence, shape and dtype, the
 * safetensors headers and the tokenizer. A bad checkpoint fails here with a
 * {@link CheckpointException} naming the file and tensor, never at the first request.
 *
 * <p>Owns the executor (its ONNX Runtime sessions and attention threads) and the tokenizer: {@link #close()} it.
 */
public final class TextEngine implements AutoCloseable {
    private static final Logger logger = LoggerFactory.getLogger(TextEngine.class);

    private final ModelInfo info;
    private final Tokenizer tokenizer;
    private final TokenizerConfig tokenizerConfig;
    private final ModelExecutor executor;
    private final KvStore kvStore;
    private final KvCacheSpec kvSpec;
    private final int maxBatchTokens;
    private final int maxSeqs;
    private final Path graphsDir;
    private final @Nullable VisionModel vision;
    private final @Nullable AttentionWorkers workers;

    private TextEngine(ModelInfo info, Tokenizer tokenizer, TokenizerConfig tokenizerConfig, ModelExecutor executor,
                       KvStore kvStore, KvCacheSpec kvSpec, int maxBatchTokens, int maxSeqs, Path graphsDir,
                       @Nullable VisionModel vision, @Nullable AttentionWorkers workers) {
        this.info = info;
        this.tokenizer = tokenizer;
        this.tokenizerConfig = tokenizerConfig;
        this.executor = executor;
        this.kvStore = kvStore;
        this.kvSpec = kvSpec;
        this.maxBatchTokens = maxBatchTokens;
        this.maxSeqs = maxSeqs;
        this.graphsDir = graphsDir;
        this.vision = vision;
        this.workers = workers;
    }

    /** Patches one step may encode by default (a vision-language model's encoder budget). */
    public static final int DEFAULT_MAX_ENCODER_PATCHES = 8192;

    /**
     * Loads {@code options.checkpoint()}: converts it to segment graphs (or reuses the cached ones), opens the sessions,
     * the tokenizer and a KV store sized from {@code options.kvMemoryBytes()}.
     *
     * @throws CheckpointException      if the checkpoint is unusable (the message names file and tensor)
     * @throws IllegalArgumentException if the options do not fit the model
     */
    public static TextEngine load(TextEngineOptions options) {
        return load(options, DEFAULT_MAX_ENCODER_PATCHES);
    }

    /**
     * Loads a checkpoint; a vision-language one (Qwen2-VL, Qwen2.5-VL, Qwen3-VL) also gets its vision tower, with
     * buffers and an encoder budget of {@code maxEncoderPatches} patches per step.
     */
    public static TextEngine load(TextEngineOptions options, int maxEncoderPatches) {
        long start = System.nanoTime();
        Path dir = options.checkpoint();
        if (!Files.isDirectory(dir)) throw new CheckpointException(dir, null, "not a checkpoint directory");
        String name = options.servedName();
        VisionConfig visionConfig = isVisionLanguage(dir) ? VisionConfig.load(dir) : null;
        ModelConfig config = ModelConfig.load(dir);
        if (options.maxModelLen() > config.maxPositionEmbeddings()) {
            throw new IllegalArgumentException("maxModelLen " + options.maxModelLen() + " exceeds the model's "
                    + config.maxPositionEmbeddings() + " positions");
        }
        ModelInfo info = config.toInfo(name, options.maxModelLen());
        Path tokenizerJson = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(tokenizerJson)) throw new CheckpointException(tokenizerJson, null, "file not found");
        TokenizerConfig tokenizerConfig = TokenizerConfig.load(dir);
        SegmentConverter.Converted graphs;
        VisionConverter.Converted visionGraphs = null;
        ImageProcessorConfig imageConfig = visionConfig == null ? null : ImageProcessorConfig.load(dir);
        if (imageConfig != null && (imageConfig.patchSize() != visionConfig.patchSize()
                || imageConfig.mergeSize() != visionConfig.mergeSize())) {
            throw new CheckpointException(dir.resolve(ImageProcessorConfig.FILE), null, "patch_size "
                    + imageConfig.patchSize() + " / merge_size " + imageConfig.mergeSize() + " differ from the vision"
                    + " tower's " + visionConfig.patchSize() + " / " + visionConfig.mergeSize());
        }
        // Qwen3-VL: the decoder's first layers take the DeepStack features, one per deepstack_visual_indexes entry.
        int deepstack = visionConfig == null ? 0 : visionConfig.featureSets() - 1;
        try (Checkpoint checkpoint = Checkpoint.open(dir)) {
            graphs = new SegmentConverter(checkpoint, config, visionConfig != null, options.quantization(), deepstack)
                    .convert(options.cacheDir());
            if (visionConfig != null && visionConfig.family() == VisionFamily.QWEN3_VL) {
                visionGraphs = new Qwen3VisionConverter(checkpoint, visionConfig).convert(options.cacheDir());
            } else if (visionConfig != null) {
                visionGraphs = new VisionConverter(checkpoint, visionConfig).convert(options.cacheDir());
            }
        }
        Tokenizer tokenizer;
        try {
            tokenizer = HfTokenizer.load(tokenizerJson);
        } catch (RuntimeException e) {
            throw new CheckpointException(tokenizerJson, null, "cannot load tokenizer: " + e.getMessage(), e);
        }
        try {
            if (tokenizer.vocabSize() > config.vocabSize()) {
                throw new CheckpointException(tokenizerJson, null, "tokenizer has " + tokenizer.vocabSize()
                        + " tokens but the model's vocab_size is " + config.vocabSize());
            }
            KvCacheSpec spec = new KvCacheSpec(config.numLayers(), config.numKvHeads(), config.headDim(),
                    options.blockSize(), options.kvDtype());
            int blocks = spec.blocksForBudget(options.kvMemoryBytes());
            int arrayLimit = (Integer.MAX_VALUE - 8) / spec.floatsPerBlockPerLayer();
            if (blocks > arrayLimit) {
                logger.warn("KV budget of {} bytes allows {} blocks; capped at {} (one layer's keys must fit a Java"
                        + " array)", options.kvMemoryBytes(), blocks, arrayLimit);
                blocks = arrayLimit;
            }
            int blocksPerSeq = (info.maxModelLen() + spec.blockSize() - 1) / spec.blockSize();
            if (blocks < blocksPerSeq) {
                logger.warn("KV cache of {} blocks holds fewer than the {} blocks of one {}-token sequence", blocks,
                        blocksPerSeq, info.maxModelLen());
            }
            KvStore store = new KvStore(spec, blocks);
            long warm = AttentionWarmup.run(spec, config.numHeads(), options.threads(), options.rowInvariant());
            logger.info("attention kernels warmed up (JIT-compiled) in {} ms", warm);
            AttentionWorkers workers = null;
            PagedAttention paged;
            if (visionConfig != null) {
                // One pool of attention threads for the decoder and the vision tower.
                workers = new AttentionWorkers("tessera-attention", options.threads());
                paged = new PagedAttention(spec, config.numHeads(), workers);
            } else {
                paged = new PagedAttention(spec, config.numHeads(), options.threads());
            }
            paged.rowInvariant(options.rowInvariant());
            ModelExecutor executor = new OrtModelExecutor(info, graphs.segments(), store, paged,
                    options.maxBatchTokens(), options.maxSeqs(), options.threads(), config.mrope(),
                    visionConfig != null, deepstack);
            VisionModel vision = null;
            if (visionConfig != null) {
                try {
                    VisionEncoder encoder = new VisionEncoder(visionConfig, visionGraphs.segments(),
                            options.threads(), workers, maxEncoderPatches);
                    vision = new VisionModel(visionConfig, new QwenImageProcessor(imageConfig), encoder,
                            maxEncoderPatches);
                } catch (RuntimeException e) {
                    executor.close();
                    workers.close();
                    throw e;
                }
            }
            logger.info("loaded {} ({}, {} layers, {} heads / {} kv heads x {}, vocab {}) with {} {} KV blocks of {} in"
                            + " {} ms", name, config.architecture(), config.numLayers(), config.numHeads(),
                    config.numKvHeads(), config.headDim(), config.vocabSize(), blocks, spec.dtype().key(),
                    spec.blockSize(), (System.nanoTime() - start) / 1_000_000);
            return new TextEngine(info, tokenizer, tokenizerConfig, executor, store, spec, options.maxBatchTokens(),
                    options.maxSeqs(), graphs.dir(), vision, workers);
        } catch (RuntimeException e) {
            tokenizer.close();
            throw e;
        }
    }

    private static boolean isVisionLanguage(Path dir) {
        try {
            String arch = new com.fasterxml.jackson.databind.ObjectMapper().readTree(dir.resolve("config.json")
                    .toFile()).path("architectures").path(0).asText("");
            return VisionConfig.isVisionLanguage(arch);
        } catch (java.io.IOException e) {
            return false; // ModelConfig.load names the file
        }
    }

    /** The vision tower and image pre-processing of a vision-language model; null for a text-only model. */
    public @Nullable VisionModel vision() {
        return vision;
    }

    public ModelInfo info() {
        return info;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** The chat template and special tokens of {@code tokenizer_config.json} (no template when it has none). */
    public TokenizerConfig tokenizerConfig() {
        return tokenizerConfig;
    }

    public ModelExecutor executor() {
        return executor;
    }

    public KvStore kvStore() {
        return kvStore;
    }

    public KvCacheSpec kvSpec() {
        return kvSpec;
    }

    public int maxBatchTokens() {
        return maxBatchTokens;
    }

    public int maxSeqs() {
        return maxSeqs;
    }

    /** Where its converted graphs are cached. */
    public Path graphsDir() {
        return graphsDir;
    }

    @Override
    public void close() {
        try {
            if (vision != null) vision.close();
            executor.close();
        } finally {
            if (workers != null) workers.close();
            tokenizer.close();
        }
    }
}
