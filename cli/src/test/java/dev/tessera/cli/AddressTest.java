package dev.tessera.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Clients find the server through TESSERA_ADDR, and --host/--port win over it. */
class AddressTest {
    @Test
    void theSettingAndItsOverrides() {
        assertEquals("127.0.0.1:8080", GenerateCommand.Address.of(null, null, null).toString());
        assertEquals("10.0.0.5:9001", GenerateCommand.Address.of(null, null, "10.0.0.5:9001").toString());
        assertEquals("127.0.0.1:9001", GenerateCommand.Address.of(null, null, ":9001").toString());
        assertEquals("gpu-box:8080", GenerateCommand.Address.of(null, null, "gpu-box").toString());
        assertEquals("localhost:7000", GenerateCommand.Address.of(null, null, "http://localhost:7000/").toString());
        assertEquals("other:9001", GenerateCommand.Address.of("other", null, "10.0.0.5:9001").toString());
        assertEquals("10.0.0.5:1234", GenerateCommand.Address.of(null, 1234, "10.0.0.5:9001").toString());
        assertThrows(IllegalArgumentException.class, () -> GenerateCommand.Address.of(null, null, "host:port"));
    }
}
