package dev.tessera.scheduler.text;

import java.util.Arrays;

/**
 * What one step computes: which sequences, how many new tokens each, and whether each needs logits (its computed
 * tokens reach its end, so a token is sampled after the step). The scheduler's step output in vLLM's sense: a plain
 * data object filled by the {@link Planner} and executed by the {@link StepRunner}.
 *
 * <p>Sized once for the most sequences a step can hold; reused for every step, so planning allocates nothing. Owned
 * by the scheduler loop; not thread-safe.
 */
final class StepPlan {
    private final Sequence[] sequences;
    private final int[] counts;
    private final boolean[] logits;
    private int size;
    private int budget;

    /** @param capacity most sequences in one step */
    StepPlan(int capacity) {
        if (capacity < 1) throw new IllegalArgumentException("capacity must be >= 1, got " + capacity);
        this.sequences = new Sequence[capacity];
        this.counts = new int[capacity];
        this.logits = new boolean[capacity];
    }

    /** Starts a new plan with {@code tokenBudget} tokens to hand out. */
    void reset(int tokenBudget) {
        size = 0;
        budget = tokenBudget;
    }

    /** Tokens still to hand out in this step. */
    int budget() {
        return budget;
    }

    /** Sequences planned. */
    int size() {
        return size;
    }

    boolean isEmpty() {
        return size == 0;
    }

    /** True when no further sequence fits, whatever the budget. */
    boolean isFull() {
        return size == sequences.length;
    }

    /** Plans {@code count} new tokens of {@code s}; it needs logits when they reach its end. */
    void add(Sequence s, int count) {
        sequences[size] = s;
        counts[size] = count;
        logits[size] = count == s.remaining();
        size++;
        budget -= count;
    }

    /**
     * Cuts the {@code i}-th entry to {@code count} new tokens (an image it reaches cannot be encoded in this step);
     * it needs logits only if they still reach its end. The tokens given back are not handed out again this step.
     */
    void shrink(int i, int count) {
        if (count <= 0 || count > counts[i]) throw new IllegalArgumentException("count " + count);
        counts[i] = count;
        logits[i] = count == sequences[i].remaining();
    }

    boolean contains(Sequence s) {
        for (int i = 0; i < size; i++) {
            if (sequences[i] == s) return true;
        }
        return false;
    }

    /** Takes {@code s} out of the plan (preempted, finished or cancelled) and gives its tokens back to the budget. */
    void remove(Sequence s) {
        for (int i = 0; i < size; i++) {
            if (sequences[i] == s) {
                budget += counts[i];
                System.arraycopy(sequences, i + 1, sequences, i, size - i - 1);
                System.arraycopy(counts, i + 1, counts, i, size - i - 1);
                System.arraycopy(logits, i + 1, logits, i, size - i - 1);
                sequences[--size] = null;
                return;
            }
        }
    }

    /** The {@code i}-th planned sequence. */
    Sequence sequence(int i) {
        return sequences[i];
    }

    /** New tokens planned for the {@code i}-th sequence. */
    int count(int i) {
        return counts[i];
    }

    /** Whether the {@code i}-th sequence needs logits (a token is sampled for it after the step). */
    boolean needsLogits(int i) {
        return logits[i];
    }

    /**
     * Empties the plan but leaves its entries readable by index (with {@link #take}) until the next {@link #reset}, so
     * the step can walk them while finishing or failing sequences, which must then not shift them.
     *
     * @return the number of entries to walk
     */
    int detach() {
        int n = size;
        size = 0;
        return n;
    }

    /** The {@code i}-th entry of a detached plan; the plan lets go of it. */
    Sequence take(int i) {
        Sequence s = sequences[i];
        sequences[i] = null;
        return s;
    }

    /** Empties the plan and lets go of its sequences. */
    void clear() {
        Arrays.fill(sequences, 0, size, null);
        size = 0;
    }
}
