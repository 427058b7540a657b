package dev.tessera.scheduler.text;

import dev.tessera.engine.text.runtime.StepBatch;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Vision encoding inside text steps, as vLLM's encoder budget and encoder cache manager: once the {@link Planner}
 * has filled a step, {@link #fit} walks its prefill chunks in plan order; a chunk that reaches image placeholders
 * takes the image's embeddings from the sequence's hold or from the encoder-output cache, or schedules the image for
 * encoding in this step if the step's encoder budget ({@link ImageEncoding#budgetPatches()}) still has room;
 * otherwise the chunk stops before the image (or leaves the step) and the image waits for a later step. The step
 * then encodes its new images in one packed call ({@link #encodeAndFill}) and the prefill that needs them follows in
 * the same step.
 *
 * <p>A sequence holds an image's embeddings from the step that first needs them until its prefill has passed the
 * image ({@link #release}), so a chunked prefill never loses them to cache eviction; a preempted sequence takes them
 * again from the cache, or has them encoded again. Owned by the loop thread.
 */
final class EncoderSchedule {
    private final ImageEncoding encoding;
    private final List<PromptImage> toEncode = new ArrayList<>();
    private final Set<String> planned = new HashSet<>();
    private int patchesLeft;

    private volatile long imagesEncoded;
    private volatile long patchesEncoded;
    private volatile long cacheHits;
    private volatile long encoderSteps;
    private volatile int maxStepPatches;

    EncoderSchedule(ImageEncoding encoding) {
        this.encoding = Objects.requireNonNull(encoding, "encoding");
    }

    int hiddenSize() {
        return encoding.hiddenSize();
    }

    /**
     * Fits a planned step to the encoder budget: each entry is cut before the first image it cannot have (an entry
     * cut to nothing leaves the step; its sequence keeps its place and its blocks and goes on in a later step).
     */
    void fit(StepPlan plan) {
        toEncode.clear();
        planned.clear();
        patchesLeft = encoding.budgetPatches();
        for (int i = 0; i < plan.size(); i++) {
            Sequence s = plan.sequence(i);
            if (s.request.mm == null) continue;
            int count = fit(s, plan.count(i));
            if (count == 0) {
                plan.remove(s);
                i--;
            } else if (count < plan.count(i)) {
                plan.shrink(i, count);
            }
        }
    }

    /**
     * The longest prefix of a {@code chunk}-token prefill of {@code s} (from {@code s.numComputed}) whose images
     * have embeddings now or get them in this step; images it schedules take from the step's budget.
     */
    int fit(Sequence s, int chunk) {
        MultimodalPrompt mm = s.request.mm;
        if (mm == null) return chunk;
        int from = s.numComputed;
        int to = from + chunk;
        List<PromptImage> images = mm.images();
        for (int i = 0; i < images.size(); i++) {
            PromptImage im = images.get(i);
            if (im.end() <= from || im.start() >= to) continue;
            if (s.heldEmbeddings(i) != null || planned.contains(im.digest())) continue;
            float[] hit = encoding.cached(im);
            if (hit != null) {
                s.holdEmbeddings(i, hit);
                cacheHits++;
                continue;
            }
            if (im.patches() <= patchesLeft) {
                patchesLeft -= im.patches();
                planned.add(im.digest());
                toEncode.add(im);
                continue;
            }
            // Stop before this image: it is encoded in a later step. A chunk that starts inside it (a cached
            // prefix ending mid-image, or an image split by an earlier chunk) waits whole.
            return Math.max(0, im.start() - from);
        }
        return chunk;
    }

    /**
     * Encodes the step's new images in one packed call, then writes into {@code batch} the embeddings of every
     * image placeholder row of the planned chunks (the batch holds the plan's sequences in plan order).
     */
    void encodeAndFill(StepPlan plan, StepBatch batch) {
        Map<String, float[]> fresh = Map.of();
        if (!toEncode.isEmpty()) {
            float[][] out = encoding.encode(toEncode);
            fresh = new HashMap<>();
            int patches = 0;
            for (int i = 0; i < out.length; i++) {
                fresh.put(toEncode.get(i).digest(), out[i]);
                patches += toEncode.get(i).patches();
            }
            imagesEncoded += out.length;
            patchesEncoded += patches;
            encoderSteps++;
            maxStepPatches = Math.max(maxStepPatches, patches);
            toEncode.clear();
        }
        int hidden = encoding.hiddenSize();
        int row = 0;
        for (int p = 0; p < plan.size(); p++) {
            Sequence s = plan.sequence(p);
            int count = plan.count(p);
            MultimodalPrompt mm = s.request.mm;
            if (mm != null) {
                int from = s.numComputed;
                int to = from + count;
                List<PromptImage> images = mm.images();
                for (int i = 0; i < images.size(); i++) {
                    PromptImage im = images.get(i);
                    int a = Math.max(from, im.start());
                    int b = Math.min(to, im.end());
                    if (a >= b) continue;
                    float[] e = s.heldEmbeddings(i);
                    if (e == null) e = fresh.get(im.digest());
                    if (e == null) e = encoding.cached(im);
                    if (e == null) throw new IllegalStateException("no embeddings for image " + im.field());
                    s.holdEmbeddings(i, e);
                    batch.setEmbeddings(row + (a - from), b - a, e, (a - im.start()) * hidden);
                }
            }
            row += count;
        }
    }

    /** Lets go of the embeddings of images {@code s}'s prefill has passed. */
    void release(Sequence s) {
        MultimodalPrompt mm = s.request.mm;
        if (mm == null) return;
        List<PromptImage> images = mm.images();
        for (int i = 0; i < images.size(); i++) {
            if (images.get(i).end() <= s.numComputed) s.holdEmbeddings(i, null);
        }
    }

    EncoderStats stats() {
        return new EncoderStats(imagesEncoded, patchesEncoded, cacheHits, encoderSteps, maxStepPatches,
                encoding.budgetPatches());
    }
}
