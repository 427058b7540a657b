package dev.tessera.engine.text.runtime;

import dev.tessera.engine.text.model.ModelInfo;

/**
 * Runs one packed step of a decoder model: writes the new tokens' K/V into the paged KV cache, attends over it and
 * returns the logits that were asked for. One implementation per device kind (ONNX Runtime on CPU now).
 *
 * <p>Not thread-safe: the scheduler loop is its only caller.
 */
public interface ModelExecutor extends AutoCloseable {

    ModelInfo info();

    /**
     * Executes {@code batch} and writes {@code batch.numLogits()} rows of {@code info().vocabSize()} logits, row-major,
     * into {@code logits}, in the order of {@link StepBatch#logitRows}.
     */
    void execute(StepBatch batch, float[] logits);

    /** Native tensors currently open (for leak checks): 0 once closed. */
    int openNativeTensors();

    /** Cumulative nanoseconds spent inside ORT calls and inside attention (for overhead accounting). */
    ExecutorTimings timings();

    @Override
    void close();
}
