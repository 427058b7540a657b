package dev.tessera.engine.text;

import dev.tessera.engine.CacheDirs;
import dev.tessera.engine.text.quant.WeightQuantization;
import dev.tessera.kvcache.KvDType;
import java.nio.file.Path;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * How to load and size a {@link TextEngine}.
 *
 * @param checkpoint     a Hugging Face checkpoint directory ({@code config.json}, {@code *.safetensors},
 *                       {@code tokenizer.json})
 * @param name           the name the model is served under; null means the directory's name
 * @param kvMemoryBytes  memory budget of the paged KV cache (keys and values of every layer, at {@code kvDtype})
 * @param blockSize      tokens per KV block
 * @param threads        ONNX Runtime intra-op threads and attention threads
 * @param cacheDir       where converted graphs are cached
 * @param maxBatchTokens the most new tokens in one step (prefill chunks plus decodes)
 * @param maxSeqs        the most sequences in one step
 * @param maxModelLen    the most positions of one sequence, prompt plus output; 0 = {@code max_position_embeddings}
 * @param quantization   how the linear layers are stored ({@link WeightQuantization#NONE}: fp32)
 * @param rowInvariant   a token's logits are bit-identical however it is computed (decode, prefill chunk,
 *                       recomputation), at some cost in decode attention speed (see
 *                       {@link dev.tessera.engine.attention.PagedAttention}): makes resumed seeded streams and
 *                       preempted sampled sequences exact
 * @param kvDtype        how the KV cache stores keys and values: {@link KvDType#BF16} or {@link KvDType#FP16} halve
 *                       the bytes per token (twice the tokens for the budget, half the bytes a decode reads);
 *                       {@link KvDType#INT8} takes {@code headDim + 4} bytes per token and KV head against fp32's
 *                       {@code 4 * headDim}
 */
public record TextEngineOptions(Path checkpoint, @Nullable String name, long kvMemoryBytes, int blockSize,
                                int threads, Path cacheDir, int maxBatchTokens, int maxSeqs, int maxModelLen,
                                WeightQuantization quantization, boolean rowInvariant, KvDType kvDtype) {

    public TextEngineOptions {
        Objects.requireNonNull(checkpoint, "checkpoint");
        Objects.requireNonNull(cacheDir, "cacheDir");
        if (name != null && name.isBlank()) throw new IllegalArgumentException("name must not be blank");
        if (kvMemoryBytes <= 0) throw new IllegalArgumentException("kvMemoryBytes must be > 0, got " + kvMemoryBytes);
        if (blockSize <= 0) throw new IllegalArgumentException("blockSize must be > 0, got " + blockSize);
        if (threads <= 0) throw new IllegalArgumentException("threads must be > 0, got " + threads);
        if (maxBatchTokens <= 0) {
            throw new IllegalArgumentException("maxBatchTokens must be > 0, got " + maxBatchTokens);
        }
        if (maxSeqs <= 0) throw new IllegalArgumentException("maxSeqs must be > 0, got " + maxSeqs);
        if (maxModelLen < 0) throw new IllegalArgumentException("maxModelLen must be >= 0, got " + maxModelLen);
        Objects.requireNonNull(quantization, "quantization");
        Objects.requireNonNull(kvDtype, "kvDtype");
    }

    /** An fp32 KV cache. */
    public TextEngineOptions(Path checkpoint, @Nullable String name, long kvMemoryBytes, int blockSize, int threads,
                             Path cacheDir, int maxBatchTokens, int maxSeqs, int maxModelLen,
                             WeightQuantization quantization, boolean rowInvariant) {
        this(checkpoint, name, kvMemoryBytes, blockSize, threads, cacheDir, maxBatchTokens, maxSeqs, maxModelLen,
                quantization, rowInvariant, KvDType.FP32);
    }

    /** fp32 weights, the faster decode attention. */
    public TextEngineOptions(Path checkpoint, @Nullable String name, long kvMemoryBytes, int blockSize, int threads,
                             Path cacheDir, int maxBatchTokens, int maxSeqs, int maxModelLen) {
        this(checkpoint, name, kvMemoryBytes, blockSize, threads, cacheDir, maxBatchTokens, maxSeqs, maxModelLen,
                WeightQuantization.NONE, false);
    }

    /**
     * {@code checkpoint} served under its directory's name, 256 MiB of KV, blocks of 16, one thread per available
     * processor, the {@linkplain CacheDirs#defaultDir() default cache}, 512 tokens and 128 sequences per step, model
     * length from the config.
     */
    public static TextEngineOptions defaults(Path checkpoint) {
        return new TextEngineOptions(checkpoint, null, 256L << 20, 16, Runtime.getRuntime().availableProcessors(),
                CacheDirs.defaultDir(), 512, 128, 0, WeightQuantization.NONE, false);
    }

    /** The served name: {@link #name} if set, else the checkpoint directory's name. */
    public String servedName() {
        if (name != null) return name;
        Path fileName = checkpoint.toAbsolutePath().normalize().getFileName();
        return fileName == null ? checkpoint.toString() : fileName.toString();
    }

    public TextEngineOptions withCheckpoint(Path dir) {
        return new TextEngineOptions(dir, name, kvMemoryBytes, blockSize, threads, cacheDir, maxBatchTokens, maxSeqs,
                maxModelLen, quantization, rowInvariant, kvDtype);
    }

    public TextEngineOptions withName(@Nullable String n) {
        return new TextEngineOptions(checkpoint, n, kvMemoryBytes, blockSize, threads, cacheDir, maxBatchTokens,
                maxSeqs, maxModelLen, quantization, rowInvariant, kvDtype);
    }

    public TextEngineOptions withKvMemoryBytes(long bytes) {
        return new TextEngineOptions(checkpoint, name, bytes, blockSize, threads, cacheDir, maxBatchTokens, maxSeqs,
                maxModelLen, quantization, rowInvariant, kvDtype);
    }

    public TextEngineOptions withBlockSize(int size) {
        return new TextEngineOptions(checkpoint, name, kvMemoryBytes, size, threads, cacheDir, maxBatchTokens, maxSeqs,
                maxModelLen, quantization, rowInvariant, kvDtype);
    }

    public TextEngineOptions withThreads(int n) {
        return new TextEngineOptions(checkpoint, name, kvMemoryBytes, blockSize, n, cacheDir, maxBatchTokens, maxSeqs,
                maxModelLen, quantization, rowInvariant, kvDtype);
    }

    public TextEngineOptions withCacheDir(Path dir) {
        return new TextEngineOptions(checkpoint, name, kvMemoryBytes, blockSize, threads, dir, maxBatchTokens, maxSeqs,
                maxModelLen, quantization, rowInvariant, kvDtype);
    }

    public TextEngineOptions withMaxBatchTokens(int n) {
        return new TextEngineOptions(checkpoint, name, kvMemoryBytes, blockSize, threads, cacheDir, n, maxSeqs,
                maxModelLen, quantization, rowInvariant, kvDtype);
    }

    public TextEngineOptions withMaxSeqs(int n) {
        return new TextEngineOptions(checkpoint, name, kvMemoryBytes, blockSize, threads, cacheDir, maxBatchTokens, n,
                maxModelLen, quantization, rowInvariant, kvDtype);
    }

    public TextEngineOptions withMaxModelLen(int n) {
        return new TextEngineOptions(checkpoint, name, kvMemoryBytes, blockSize, threads, cacheDir, maxBatchTokens,
                maxSeqs, n, quantization, rowInvariant, kvDtype);
    }

    public TextEngineOptions withQuantization(WeightQuantization q) {
        return new TextEngineOptions(checkpoint, name, kvMemoryBytes, blockSize, threads, cacheDir, maxBatchTokens,
                maxSeqs, maxModelLen, q, rowInvariant, kvDtype);
    }

    public TextEngineOptions withRowInvariant(boolean on) {
        return new TextEngineOptions(checkpoint, name, kvMemoryBytes, blockSize, threads, cacheDir, maxBatchTokens,
                maxSeqs, maxModelLen, quantization, on, kvDtype);
    }

    public TextEngineOptions withKvDtype(KvDType type) {
        return new TextEngineOptions(checkpoint, name, kvMemoryBytes, blockSize, threads, cacheDir, maxBatchTokens,
                maxSeqs, maxModelLen, quantization, rowInvariant, type);
    }
}
