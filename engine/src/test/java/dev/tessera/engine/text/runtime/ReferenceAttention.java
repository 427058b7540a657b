package dev.tessera.engine.text.runtime;

import dev.tessera.kvcache.KvStore;

/** Plain, obviously correct causal attention over the paged cache (double accumulation), for tests. */
final class ReferenceAttention implements AttentionKernel {
    private final int numHeads;
    private final int numKvHeads;
    private final int headDim;

    ReferenceAttention(int numHeads, int numKvHeads, int headDim) {
        this.numHeads = numHeads;
        this.numKvHeads = numKvHeads;
        this.headDim = headDim;
    }

    @Override
    public void forward(int layer, float[] q, float[] out, StepBatch batch, KvStore store) {
        int bs = store.spec().blockSize();
        int group = numHeads / numKvHeads;
        double scale = 1.0 / Math.sqrt(headDim);
        float[] keys = store.keys(layer);
        float[] values = store.values(layer);
        for (int s = 0; s < batch.numSeqs(); s++) {
            int qlen = batch.queryLen(s);
            int ctx = batch.contextLen[s];
            int tableOff = batch.blockTableOffset(s);
            for (int i = 0; i < qlen; i++) {
                int row = batch.queryStart[s] + i;
                int pos = ctx - qlen + i;
                for (int h = 0; h < numHeads; h++) {
                    int kvh = h / group;
                    int qOff = (row * numHeads + h) * headDim;
                    double[] scores = new double[pos + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= pos; j++) {
                        int off = store.offset(batch.blockTables[tableOff + j / bs], kvh, j % bs);
                        double dot = 0;
                        for (int d = 0; d < headDim; d++) dot += q[qOff + d] * keys[off + d];
                        scores[j] = dot * scale;
                        max = Math.max(max, scores[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= pos; j++) {
                        scores[j] = Math.exp(scores[j] - max);
                        sum += scores[j];
                    }
                    for (int d = 0; d < headDim; d++) {
                        double acc = 0;
                        for (int j = 0; j <= pos; j++) {
                            int off = store.offset(batch.blockTables[tableOff + j / bs], kvh, j % bs);
                            acc += scores[j] * values[off + d];
                        }
                        out[qOff + d] = (float) (acc / sum);
                    }
                }
            }
        }
    }

    @Override
    public void close() {
    }
}
