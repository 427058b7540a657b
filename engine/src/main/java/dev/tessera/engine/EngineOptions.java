package dev.tessera.engine;

import java.nio.file.Path;
import java.util.Objects;

/**
 * How to load and size an {@link Engine}.
 *
 * @param model          a Hugging Face checkpoint directory, or {@code builtin:tiny} / {@code builtin:bench}
 * @param kvMemoryBytes  memory budget of the paged KV cache (fp32 keys and values of every layer)
 * @param blockSize      tokens per KV block
 * @param threads        ONNX Runtime intra-op threads and attention threads
 * @param cacheDir       where converted graphs (and built-in checkpoints) are cached
 * @param maxBatchTokens the most new tokens in one step (prefill chunks plus decodes)
 * @param maxSeqs        the most sequences in one step
 * @param maxModelLen    the most positions of one sequence, prompt plus output; 0 = {@code max_position_embeddings}
 */
public record EngineOptions(String model, long kvMemoryBytes, int blockSize, int threads, Path cacheDir,
                            int maxBatchTokens, int maxSeqs, int maxModelLen) {

    public static final String BUILTIN_PREFIX = "builtin:";

    public EngineOptions {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(cacheDir, "cacheDir");
        if (model.isBlank()) throw new IllegalArgumentException("model must not be blank");
        if (kvMemoryBytes <= 0) throw new IllegalArgumentException("kvMemoryBytes must be > 0, got " + kvMemoryBytes);
        if (blockSize <= 0) throw new IllegalArgumentException("blockSize must be > 0, got " + blockSize);
        if (threads <= 0) throw new IllegalArgumentException("threads must be > 0, got " + threads);
        if (maxBatchTokens <= 0) {
            throw new IllegalArgumentException("maxBatchTokens must be > 0, got " + maxBatchTokens);
        }
        if (maxSeqs <= 0) throw new IllegalArgumentException("maxSeqs must be > 0, got " + maxSeqs);
        if (maxModelLen < 0) throw new IllegalArgumentException("maxModelLen must be >= 0, got " + maxModelLen);
    }

    /**
     * {@code builtin:tiny}, 256 MiB of KV, blocks of 16, one thread per available processor, cache in
     * {@code $TESSERA_HOME} or {@code ~/.cache/tessera}, 512 tokens and 128 sequences per step, model length from
     * the config.
     */
    public static EngineOptions defaults() {
        String home = System.getenv("TESSERA_HOME");
        Path cache = home != null && !home.isBlank() ? Path.of(home)
                : Path.of(System.getProperty("user.home"), ".cache", "tessera");
        return new EngineOptions(BUILTIN_PREFIX + "tiny", 256L << 20, 16, Runtime.getRuntime().availableProcessors(),
                cache, 512, 128, 0);
    }

    public EngineOptions withModel(String m) {
        return new EngineOptions(m, kvMemoryBytes, blockSize, threads, cacheDir, maxBatchTokens, maxSeqs, maxModelLen);
    }

    public EngineOptions withKvMemoryBytes(long bytes) {
        return new EngineOptions(model, bytes, blockSize, threads, cacheDir, maxBatchTokens, maxSeqs, maxModelLen);
    }

    public EngineOptions withBlockSize(int size) {
        return new EngineOptions(model, kvMemoryBytes, size, threads, cacheDir, maxBatchTokens, maxSeqs, maxModelLen);
    }

    public EngineOptions withThreads(int n) {
        return new EngineOptions(model, kvMemoryBytes, blockSize, n, cacheDir, maxBatchTokens, maxSeqs, maxModelLen);
    }

    public EngineOptions withCacheDir(Path dir) {
        return new EngineOptions(model, kvMemoryBytes, blockSize, threads, dir, maxBatchTokens, maxSeqs, maxModelLen);
    }

    public EngineOptions withMaxBatchTokens(int n) {
        return new EngineOptions(model, kvMemoryBytes, blockSize, threads, cacheDir, n, maxSeqs, maxModelLen);
    }

    public EngineOptions withMaxSeqs(int n) {
        return new EngineOptions(model, kvMemoryBytes, blockSize, threads, cacheDir, maxBatchTokens, n, maxModelLen);
    }

    public EngineOptions withMaxModelLen(int n) {
        return new EngineOptions(model, kvMemoryBytes, blockSize, threads, cacheDir, maxBatchTokens, maxSeqs, n);
    }

    /** Whether {@link #model} names a built-in model. */
    public boolean isBuiltin() {
        return model.startsWith(BUILTIN_PREFIX);
    }
}
