package dev.tessera.gateway.edge;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The warm-up's one-time key: only with keys required, random each time, accepted only until it is closed. */
class EdgeGateTest {
    @Test
    void theWarmUpKeyLivesOnlyWhileTheWarmUpRuns() {
        EdgeGate gate = new EdgeGate(EdgeOptions.defaults().withApiKeys(ApiKeys.parse(
                List.of("alpha:alpha-0123456789abcdef"), "test")));
        String key = gate.openWarmup();
        assertTrue(key != null && key.startsWith("Bearer warmup-"), key);
        assertTrue(gate.isWarmup(key));
        assertFalse(gate.isWarmup("Bearer alpha-0123456789abcdef"), "a tenant's key is not the warm-up's");
        assertFalse(gate.isWarmup(key.substring(0, key.length() - 1)));
        assertFalse(gate.isWarmup(null));
        gate.closeWarmup();
        assertFalse(gate.isWarmup(key), "refused once the warm-up is over");
        assertNotEquals(key, gate.openWarmup(), "a new key each time");
        gate.closeWarmup();
        assertNull(new EdgeGate(EdgeOptions.defaults()).openWarmup(), "no key when none is required");
    }
}
