package dev.tessera.scheduler.text;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The encoder-output cache: image embeddings by the image's digest (its content and processing parameters), least
 * recently used first out, within a byte budget. An embedding larger than the whole budget is not kept. Loop thread
 * only.
 */
final class EncoderCache {
    private final long budgetBytes;
    private final LinkedHashMap<String, float[]> entries = new LinkedHashMap<>(64, 0.75f, true);
    private long bytes;

    /** @param budgetBytes most bytes of embeddings held (0 keeps none) */
    EncoderCache(long budgetBytes) {
        if (budgetBytes < 0) throw new IllegalArgumentException("budgetBytes must be >= 0, got " + budgetBytes);
        this.budgetBytes = budgetBytes;
    }

    /** The embeddings of {@code digest}, or null; a hit makes it the most recently used. */
    float @Nullable [] get(String digest) {
        return entries.get(digest);
    }

    /** Keeps {@code embeddings} under {@code digest}, evicting the least recently used entries to stay in budget. */
    void put(String digest, float[] embeddings) {
        long size = 4L * embeddings.length;
        if (size > budgetBytes) return;
        float[] old = entries.put(digest, embeddings);
        if (old != null) bytes -= 4L * old.length;
        bytes += size;
        Iterator<Map.Entry<String, float[]>> it = entries.entrySet().iterator();
        while (bytes > budgetBytes && it.hasNext()) {
            Map.Entry<String, float[]> e = it.next();
            if (e.getKey().equals(digest)) continue;
            bytes -= 4L * e.getValue().length;
            it.remove();
        }
    }

    /** Bytes held. */
    long bytes() {
        return bytes;
    }

    /** Entries held. */
    int size() {
        return entries.size();
    }
}
