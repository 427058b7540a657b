package dev.tessera.gateway.launch;

import dev.tessera.kvcache.KvDType;
import picocli.CommandLine;

/** {@code --kv-dtype fp32|bf16|fp16|int8}: a bad value is a usage error naming the accepted values. */
public final class KvDtypeSpec implements CommandLine.ITypeConverter<KvDType> {
    @Override
    public KvDType convert(String value) {
        try {
            return KvDType.parse(value);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.TypeConversionException(e.getMessage());
        }
    }
}
