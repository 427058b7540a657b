package dev.tessera.engine.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.kvcache.KvCacheSpec;
import dev.tessera.kvcache.KvDType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class AttentionWarmupTest {
    /** The warm-up runs every tile path of each dtype's layout and leaves no attention thread behind. */
    @ParameterizedTest
    @EnumSource(KvDType.class)
    void warmsEveryLayoutAndStopsItsThreads(KvDType dtype) throws InterruptedException {
        long before = attentionThreads();
        AttentionWarmup.run(new KvCacheSpec(4, 2, 32, 16, dtype), 8, 2, false, 6);
        AttentionWarmup.run(new KvCacheSpec(4, 3, 20, 8, dtype), 3, 3, true, 6); // MHA, head dim off the vector width
        assertEquals(before, attentionThreads());
    }

    private static long attentionThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && t.getName().startsWith(AttentionWorkers.DEFAULT_NAME)).count();
    }
}
