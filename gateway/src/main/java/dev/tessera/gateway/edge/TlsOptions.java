package dev.tessera.gateway.edge;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * TLS on the server's one port (HTTP/2 by ALPN, HTTP/1.1 besides), from PEM files.
 *
 * @param certificate the server's certificate chain, PEM
 * @param privateKey  its private key, PEM (PKCS#8 or PKCS#1)
 * @param clientCa    when set, clients must present a certificate signed by one of these (PEM): mutual TLS
 */
public record TlsOptions(Path certificate, Path privateKey, @Nullable Path clientCa) {
    public TlsOptions {
        Objects.requireNonNull(certificate, "certificate");
        Objects.requireNonNull(privateKey, "privateKey");
        for (Path p : new Path[] {certificate, privateKey, clientCa}) {
            if (p != null && !Files.isReadable(p)) throw new IllegalArgumentException("cannot read " + p);
        }
    }
}
