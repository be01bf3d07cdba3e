package envelope

import (
	"encoding/binary"
	"strconv"
)

// MagicByte is the first byte of a value in the Confluent wire format.
const MagicByte byte = 0x00

// WireHeaderLen is the length of the wire format's header: the magic byte and
// the 4-byte big-endian schema ID.
const WireHeaderLen = 5

// AppendWire appends the Confluent wire format of body to dst: the magic byte
// 0x00, schemaID big-endian in 4 bytes, then body. It allocates only when dst
// must grow. The serde's hot path appends the header with a nil body and then
// the Avro encoding after it:
//
//	buf = envelope.AppendWire(buf[:0], id, nil)
//	buf, err = ev.AppendAvro(buf)
func AppendWire(dst []byte, schemaID uint32, body []byte) []byte {
	dst = append(dst, MagicByte)
	dst = binary.BigEndian.AppendUint32(dst, schemaID)
	return append(dst, body...)
}

// ParseWire splits a value in the Confluent wire format into its schema ID and
// Avro body; body aliases value. The error is an *Error of kind
// ErrNoMagicByte, ErrUnknownMagicByte or ErrShortValue.
func ParseWire(value []byte) (schemaID uint32, body []byte, err error) {
	switch {
	case len(value) == 0:
		return 0, nil, &Error{Kind: ErrNoMagicByte, Reason: "value is empty: no magic byte (a tombstone or not an envelope)"}
	case value[0] != MagicByte:
		return 0, nil, &Error{Kind: ErrUnknownMagicByte, Reason: "unknown magic byte 0x" + hex2(value[0]) + " (want 0x00)"}
	case len(value) < WireHeaderLen:
		return 0, nil, &Error{Kind: ErrShortValue, Reason: "value is " + strconv.Itoa(len(value)) + " bytes, shorter than the 5-byte header (magic byte and schema ID)"}
	}
	return binary.BigEndian.Uint32(value[1:WireHeaderLen]), value[WireHeaderLen:], nil
}

func hex2(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}
