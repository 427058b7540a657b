package dev.tessera.engine.text.runtime;

import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * One packed, unpadded step: the new tokens of every scheduled sequence, concatenated.
 *
 * <p>This is the scheduler's plan made concrete for the model runner. Prefill chunks and decode tokens of many
 * sequences share one token matrix {@code [numTokens, hidden]}; {@code queryStart} is {@code cu_seqlens} over it.
 * The arrays are sized once for the capacity and reused every step: {@link #clear()} then
 * {@link #addSequence} per sequence, no allocation.
 *
 * <p>For sequence {@code s}, its new tokens are rows {@code queryStart[s] .. queryStart[s+1]-1}; after the step its
 * KV holds {@code contextLen[s]} tokens, so new token {@code i} sits at position
 * {@code contextLen[s] - queryLen(s) + i}. Attention is causal: a token sees the positions up to its own.
 */
public final class StepBatch {
    public final int maxTokens;
    public final int maxSeqs;
    public final int maxBlocksPerSeq;

    /** Token ids of the new tokens, {@code [maxTokens]}. */
    public final int[] tokenIds;
    /** Absolute position of each new token in its sequence. */
    public final int[] positions;
    /** Global KV slot ({@code block * blockSize + offset}) that receives each new token's K and V. */
    public final int[] slotMapping;
    /** cu_seqlens over new tokens, {@code [maxSeqs + 1]}. */
    public final int[] queryStart;
    /** Tokens in the KV cache of each sequence once this step's tokens are written. */
    public final int[] contextLen;
    /** Block tables, flattened {@code [maxSeqs][maxBlocksPerSeq]}. */
    public final int[] blockTables;
    /** Token rows whose logits are wanted (usually the last new token of each sequence that samples). */
    public final int[] logitRows;
    /**
     * Multimodal rotary positions (M-RoPE, Qwen2-VL): temporal, height and width position of each new token,
     * axis-major {@code [3][maxTokens]}. Equal to {@link #positions} on every axis for text tokens.
     */
    public final int[] mropePositions;
    /** Rows whose input embeddings are given ({@link #embeds}) instead of looked up: image placeholder tokens. */
    public final int[] embedRows;
    /** The given embeddings, {@code [numEmbeds, embedWidth]}; allocated by {@link #enableEmbeds}. */
    public float[] embeds = new float[0];

    private int numTokens;
    private int numSeqs;
    private int numLogits;
    private int numEmbeds;
    private int embedWidth;

    public StepBatch(int maxTokens, int maxSeqs, int maxBlocksPerSeq) {
        if (maxTokens <= 0 || maxSeqs <= 0 || maxBlocksPerSeq <= 0) {
            throw new IllegalArgumentException("StepBatch capacities must be > 0");
        }
        this.maxTokens = maxTokens;
        this.maxSeqs = maxSeqs;
        this.maxBlocksPerSeq = maxBlocksPerSeq;
        this.tokenIds = new int[maxTokens];
        this.positions = new int[maxTokens];
        this.slotMapping = new int[maxTokens];
        this.queryStart = new int[maxSeqs + 1];
        this.contextLen = new int[maxSeqs];
        this.blockTables = new int[maxSeqs * maxBlocksPerSeq];
        this.logitRows = new int[maxSeqs];
        this.mropePositions = new int[3 * maxTokens];
        this.embedRows = new int[maxTokens];
    }

    /** Sizes {@link #embeds} for rows of {@code width} floats (the model's hidden size); once. */
    public void enableEmbeds(int width) {
        if (width <= 0) throw new IllegalArgumentException("width must be > 0");
        if (embedWidth == width) return;
        embedWidth = width;
        embeds = new float[Math.multiplyExact(maxTokens, width)];
    }

    public void clear() {
        numTokens = 0;
        numSeqs = 0;
        numLogits = 0;
        numEmbeds = 0;
        queryStart[0] = 0;
    }

    /**
     * Appends one sequence's new tokens.
     *
     * @param tokens     the sequence's token ids (prompt then output)
     * @param from       index in {@code tokens} of the first new token (= tokens already in the KV cache)
     * @param count      number of new tokens (prefill chunk length, or 1 for decode)
     * @param blockTable the sequence's block ids, covering at least {@code from + count} tokens
     * @param numBlocks  valid entries in {@code blockTable}
     * @param blockSize  tokens per block
     * @param wantLogits whether the last new token's logits are needed
     * @return the sequence index in this batch
     */
    public int addSequence(int[] tokens, int from, int count, int[] blockTable, int numBlocks, int blockSize,
                           boolean wantLogits) {
        return addSequence(tokens, from, count, blockTable, numBlocks, blockSize, wantLogits, null, 0, 0);
    }

    /**
     * Appends one sequence's new tokens with multimodal rotary positions: token {@code p < promptLen} takes
     * {@code mrope[a * promptLen + p]} on axis {@code a}; later tokens take {@code p + ropeDelta} on every axis
     * (transformers' rope delta carried into decode).
     *
     * @param mrope     axis-major {@code [3][promptLen]} prompt positions, or null for plain positions
     * @param promptLen tokens {@code mrope} covers
     * @param ropeDelta added to the index of every token past the prompt
     */
    public int addSequence(int[] tokens, int from, int count, int[] blockTable, int numBlocks, int blockSize,
                           boolean wantLogits, int @Nullable [] mrope, int promptLen, int ropeDelta) {
        if (count <= 0) throw new IllegalArgumentException("count must be > 0");
        if (numTokens + count > maxTokens) throw new IllegalStateException("step over token capacity");
        if (numSeqs == maxSeqs) throw new IllegalStateException("step over sequence capacity");
        if (numBlocks > maxBlocksPerSeq) throw new IllegalStateException("block table over capacity");
        int s = numSeqs++;
        for (int i = 0; i < count; i++) {
            int pos = from + i;
            int row = numTokens + i;
            tokenIds[row] = tokens[pos];
            positions[row] = pos;
            if (mrope != null && pos < promptLen) {
                mropePositions[row] = mrope[pos];
                mropePositions[maxTokens + row] = mrope[promptLen + pos];
                mropePositions[2 * maxTokens + row] = mrope[2 * promptLen + pos];
            } else {
                int p = mrope != null ? pos + ropeDelta : pos;
                mropePositions[row] = p;
                mropePositions[maxTokens + row] = p;
                mropePositions[2 * maxTokens + row] = p;
            }
            slotMapping[row] = blockTable[pos / blockSize] * blockSize + (pos % blockSize);
        }
        numTokens += count;
        queryStart[s + 1] = numTokens;
        contextLen[s] = from + count;
        System.arraycopy(blockTable, 0, blockTables, s * maxBlocksPerSeq, numBlocks);
        if (wantLogits) logitRows[numLogits++] = numTokens - 1;
        return s;
    }

    /**
     * Gives rows {@code row .. row+count-1} of this step the embeddings {@code src[from .. from + count*width)}
     * instead of their tokens' (image placeholder rows). {@link #enableEmbeds} first.
     */
    public void setEmbeddings(int row, int count, float[] src, int from) {
        if (embedWidth == 0) throw new IllegalStateException("enableEmbeds first");
        if (row < 0 || row + count > numTokens) throw new IllegalArgumentException("rows outside the step");
        for (int i = 0; i < count; i++) embedRows[numEmbeds + i] = row + i;
        System.arraycopy(src, from, embeds, numEmbeds * embedWidth, count * embedWidth);
        numEmbeds += count;
    }

    /** Rows whose embeddings are given. */
    public int numEmbeds() { return numEmbeds; }

    public int numTokens() { return numTokens; }
    public int numSeqs() { return numSeqs; }
    public int numLogits() { return numLogits; }
    public int queryLen(int s) { return queryStart[s + 1] - queryStart[s]; }
    public int blockTableOffset(int s) { return s * maxBlocksPerSeq; }

    @Override
    public String toString() {
        return "StepBatch{tokens=" + numTokens + ", seqs=" + numSeqs + ", logits=" + numLogits
                + ", cu=" + Arrays.toString(Arrays.copyOf(queryStart, numSeqs + 1)) + '}';
    }
}
