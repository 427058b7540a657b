package dev.tessera.scheduler.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

/** The encoder-output cache: least recently used out first, within its byte budget. */
class EncoderCacheTest {
    @Test
    void evictsTheLeastRecentlyUsedToStayWithinTheByteBudget() {
        EncoderCache cache = new EncoderCache(4 * 30); // 30 floats
        cache.put("a", new float[10]);
        cache.put("b", new float[10]);
        cache.put("c", new float[10]);
        assertEquals(120, cache.bytes());
        assertNotNull(cache.get("a")); // a is now the most recently used
        cache.put("d", new float[10]);
        assertNull(cache.get("b"), "b was the least recently used");
        assertNotNull(cache.get("a"));
        assertNotNull(cache.get("c"));
        assertNotNull(cache.get("d"));
        cache.put("e", new float[25]); // needs room for 25 of 30: everything else goes
        assertEquals(1, cache.size());
        assertEquals(100, cache.bytes());
        cache.put("huge", new float[31]); // larger than the whole budget: not kept, nothing evicted
        assertNull(cache.get("huge"));
        assertNotNull(cache.get("e"));
        cache.put("e", new float[5]); // replacing an entry counts its new size only
        assertEquals(20, cache.bytes());
    }

    @Test
    void aZeroBudgetKeepsNothing() {
        EncoderCache cache = new EncoderCache(0);
        cache.put("a", new float[1]);
        assertNull(cache.get("a"));
        assertEquals(0, cache.bytes());
    }
}
