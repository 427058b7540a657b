package dev.tessera.gateway.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Key entries with their own quota limits: parsed, applied over the defaults, and refused when wrong. */
class ApiKeysTest {
    static final QuotaLimits DEFAULTS = new QuotaLimits(8, 10, 100_000);

    @Test
    void aKeysLimitsOverrideTheDefaultsItNamesAndKeepTheRest() {
        ApiKeys keys = ApiKeys.parse(List.of("# comment", "small:small-0123456789abcdef max-jobs=1 tokens-per-minute=0",
                "big:big-0123456789abcdef\trequests-per-second=0.5", "plain:plain-0123456789abcdef"), "test");
        assertEquals(new QuotaLimits(1, 10, 0), keys.limits(new Tenant("small"), DEFAULTS));
        assertEquals(new QuotaLimits(8, 0.5, 100_000), keys.limits(new Tenant("big"), DEFAULTS));
        assertEquals(DEFAULTS, keys.limits(new Tenant("plain"), DEFAULTS));
        assertEquals(new Tenant("small"), keys.authenticate("Bearer small-0123456789abcdef"),
                "the limits are not part of the key");
        assertEquals(null, keys.authenticate("Bearer small-0123456789abcdef max-jobs=1"));
    }

    @Test
    void theEnvironmentListTakesLimitsToo() {
        ApiKeys keys = ApiKeys.fromList("a:aaaa-0123456789abcdef max-jobs=3,b:bbbb-0123456789abcdef", "$ENV");
        assertEquals(3, keys.limits(new Tenant("a"), DEFAULTS).maxJobs());
        assertEquals(8, keys.limits(new Tenant("b"), DEFAULTS).maxJobs());
    }

    @Test
    void twoKeysOfOneTenantShareItsLimits() {
        ApiKeys same = ApiKeys.parse(List.of("t:key1-0123456789abcdef max-jobs=2", "t:key2-0123456789abcdef max-jobs=2"),
                "test");
        assertEquals(2, same.limits(new Tenant("t"), DEFAULTS).maxJobs());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ApiKeys.parse(List.of(
                "t:key1-0123456789abcdef max-jobs=2", "t:key2-0123456789abcdef max-jobs=3"), "keys.txt"));
        assertTrue(e.getMessage().startsWith("keys.txt entry 2 (tenant t): another key of this tenant sets other"
                + " limits"), e.getMessage());
    }

    @Test
    void aWrongLimitIsRefusedNamingTheEntry() {
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class, () -> ApiKeys.parse(
                List.of("t:key1-0123456789abcdef max-job=2"), "keys.txt"));
        assertTrue(unknown.getMessage().startsWith("keys.txt entry 1 (tenant t): unknown limit 'max-job'"),
                unknown.getMessage());
        IllegalArgumentException nan = assertThrows(IllegalArgumentException.class, () -> ApiKeys.parse(
                List.of("t:key1-0123456789abcdef tokens-per-minute=lots"), "keys.txt"));
        assertTrue(nan.getMessage().contains("tokens-per-minute: 'lots' is not a number"), nan.getMessage());
        IllegalArgumentException negative = assertThrows(IllegalArgumentException.class, () -> ApiKeys.parse(
                List.of("t:key1-0123456789abcdef max-jobs=-1"), "keys.txt"));
        assertTrue(negative.getMessage().contains("maxJobs must be >= 0"), negative.getMessage());
    }
}
