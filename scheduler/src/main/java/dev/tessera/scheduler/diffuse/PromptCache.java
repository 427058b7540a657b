package dev.tessera.scheduler.diffuse;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Prompt encodings by prompt text, least recently used evicted first, so that repeated prompts and negative prompts
 * are encoded once. Loop thread only.
 */
final class PromptCache {
    private final int capacity;
    private final LinkedHashMap<String, float[]> entries;
    private long hits;
    private long misses;

    PromptCache(int capacity) {
        this.capacity = capacity;
        this.entries = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<String, float[]> eldest) {
                return size() > PromptCache.this.capacity;
            }
        };
    }

    float[] get(String prompt) {
        float[] e = entries.get(prompt);
        if (e != null) hits++;
        return e;
    }

    void put(String prompt, float[] embedding) {
        misses++;
        if (capacity > 0) entries.put(prompt, embedding);
    }

    long hits() {
        return hits;
    }

    long misses() {
        return misses;
    }
}
