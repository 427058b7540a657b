package dev.tessera.engine.detect;

import org.jspecify.annotations.Nullable;

import java.util.Arrays;
import java.util.Objects;

/**
 * The frames of one detection step and, after {@link DetrEngine#detect}, each frame's raw outputs. Reusable: fill
 * it with {@link #add}, run it, read {@link #logits}/{@link #boxes} by the index {@code add} returned, then
 * {@link #clear()} it. Output arrays are allocated once, for the capacity, and overwritten by each step.
 *
 * <p>Not thread-safe: one owner (the scheduler loop).
 */
public final class DetrBatch {
    private final @Nullable PreparedFrame[] frames;
    private final float[][] logits;
    private final float[][] boxes;
    private final int numQueries;
    private final int logitColumns;
    private int size;
    private boolean done;

    /**
     * @param capacity     the most frames per step
     * @param numQueries   the model's object queries
     * @param logitColumns classes + 1 (no object)
     */
    public DetrBatch(int capacity, int numQueries, int logitColumns) {
        if (capacity <= 0 || numQueries <= 0 || logitColumns <= 1) {
            throw new IllegalArgumentException("capacity, numQueries must be > 0 and logitColumns > 1");
        }
        this.frames = new PreparedFrame[capacity];
        this.logits = new float[capacity][numQueries * logitColumns];
        this.boxes = new float[capacity][numQueries * 4];
        this.numQueries = numQueries;
        this.logitColumns = logitColumns;
    }

    /** Adds a frame; returns its index in this step. */
    public int add(PreparedFrame frame) {
        Objects.requireNonNull(frame, "frame");
        if (size == frames.length) {
            throw new IllegalStateException("batch is full (" + frames.length + " frames per step)");
        }
        frames[size] = frame;
        done = false;
        return size++;
    }

    public int size() {
        return size;
    }

    public int capacity() {
        return frames.length;
    }

    public boolean isEmpty() {
        return size == 0;
    }

    public PreparedFrame frame(int i) {
        Objects.checkIndex(i, size);
        return Objects.requireNonNull(frames[i]);
    }

    public int numQueries() {
        return numQueries;
    }

    /** Classes + 1 (the last column is no object). */
    public int logitColumns() {
        return logitColumns;
    }

    /** Frame {@code i}'s {@code [numQueries, logitColumns]} logits from the last step (a shared array). */
    public float[] logits(int i) {
        checkDone(i);
        return logits[i];
    }

    /** Frame {@code i}'s {@code [numQueries, 4]} normalised (cx, cy, w, h) boxes from the last step (shared). */
    public float[] boxes(int i) {
        checkDone(i);
        return boxes[i];
    }

    /** Empties the batch (output arrays are kept for the next step). */
    public void clear() {
        Arrays.fill(frames, 0, size, null);
        size = 0;
        done = false;
    }

    float[] logitsOut(int i) {
        return logits[i];
    }

    float[] boxesOut(int i) {
        return boxes[i];
    }

    void markDone() {
        done = true;
    }

    private void checkDone(int i) {
        Objects.checkIndex(i, size);
        if (!done) throw new IllegalStateException("the batch has not been run since its last change");
    }
}
