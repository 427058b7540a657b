package dev.tessera.gateway.edge;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class OriginPolicyTest {

    @Test
    void sameOriginByDefault() {
        OriginPolicy p = OriginPolicy.sameOrigin();
        assertTrue(p.allows(null, "example.com"), "not a browser");
        assertTrue(p.allows("https://Example.com", "example.com:443"), "default port, any case");
        assertTrue(p.allows("http://127.0.0.1:8080", "127.0.0.1:8080"));
        assertFalse(p.allows("http://127.0.0.1:8081", "127.0.0.1:8080"), "another port");
        assertFalse(p.allows("https://evil.example", "example.com"));
        assertFalse(p.allows("null", "example.com"), "the opaque origin");
        assertFalse(p.allows("http://example.com/path", "example.com"), "an origin has no path");
        assertFalse(p.allows("not a uri", "example.com"));
    }

    @Test
    void listedOriginsAndTheWildcard() {
        OriginPolicy p = new OriginPolicy(List.of(" https://App.example ", ""));
        assertTrue(p.allows("https://app.example", "server:8080"));
        assertFalse(p.allows("https://app.example:8443", "server:8080"));
        assertTrue(new OriginPolicy(List.of("*")).allows("https://anything.example", "server"));
        assertThrows(IllegalArgumentException.class, () -> new OriginPolicy(List.of("https://a.example/")));
    }
}
