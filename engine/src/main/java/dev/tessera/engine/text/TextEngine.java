package dev.tessera.engine.text;

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
import dev.tessera.kvcache.KvCacheSpec;
import dev.tessera.kvcache.KvStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;

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

    private TextEngine(ModelInfo info, Tokenizer tokenizer, TokenizerConfig tokenizerConfig, ModelExecutor executor,
                       KvStore kvStore, KvCacheSpec kvSpec, int maxBatchTokens, int maxSeqs, Path graphsDir) {
        this.info = info;
        this.tokenizer = tokenizer;
        this.tokenizerConfig = tokenizerConfig;
        this.executor = executor;
        this.kvStore = kvStore;
        this.kvSpec = kvSpec;
        this.maxBatchTokens = maxBatchTokens;
        this.maxSeqs = maxSeqs;
        this.graphsDir = graphsDir;
    }

    /**
     * Loads {@code options.checkpoint()}: converts it to segment graphs (or reuses the cached ones), opens the sessions,
     * the tokenizer and a KV store sized from {@code options.kvMemoryBytes()}.
     *
     * @throws CheckpointException      if the checkpoint is unusable (the message names file and tensor)
     * @throws IllegalArgumentException if the options do not fit the model
     */
    public static TextEngine load(TextEngineOptions options) {
        long start = System.nanoTime();
        Path dir = options.checkpoint();
        if (!Files.isDirectory(dir)) throw new CheckpointException(dir, null, "not a checkpoint directory");
        String name = options.servedName();
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
        try (Checkpoint checkpoint = Checkpoint.open(dir)) {
            graphs = new SegmentConverter(checkpoint, config).convert(options.cacheDir());
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
                    options.blockSize());
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
            ModelExecutor executor = new OrtModelExecutor(info, graphs.segments(), store,
                    new PagedAttention(spec, config.numHeads(), options.threads()), options.maxBatchTokens(),
                    options.maxSeqs(), options.threads());
            logger.info("loaded {} ({}, {} layers, {} heads / {} kv heads x {}, vocab {}) with {} KV blocks of {} in"
                            + " {} ms", name, config.architecture(), config.numLayers(), config.numHeads(),
                    config.numKvHeads(), config.headDim(), config.vocabSize(), blocks, spec.blockSize(),
                    (System.nanoTime() - start) / 1_000_000);
            return new TextEngine(info, tokenizer, tokenizerConfig, executor, store, spec, options.maxBatchTokens(),
                    options.maxSeqs(), graphs.dir());
        } catch (RuntimeException e) {
            tokenizer.close();
            throw e;
        }
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
            executor.close();
        } finally {
            tokenizer.close();
        }
    }
}
