package dev.tessera.kvcache;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PrefixIndexTest {
    @Test
    void behavesLikeAMapUnderChurn() {
        PrefixIndex index = new PrefixIndex(64);
        Map<Long, Integer> ref = new HashMap<>();
        Random rnd = new Random(1);
        for (int step = 0; step < 20_000; step++) {
            long key = rnd.nextInt(200) * 0x100000000L; // clustered keys stress probing
            if (ref.containsKey(key)) {
                if (rnd.nextBoolean()) {
                    index.remove(key, ref.remove(key));
                }
            } else if (ref.size() < 64) {
                int block = rnd.nextInt(1000);
                index.put(key, block);
                ref.put(key, block);
            }
            if (step % 97 == 0) {
                for (long k = 0; k < 200; k++) {
                    long kk = k * 0x100000000L;
                    assertEquals(ref.getOrDefault(kk, -1), index.get(kk));
                }
            }
        }
        assertEquals(ref.size(), index.size());
    }
}
