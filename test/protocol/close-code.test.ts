import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CloseCode, isValidWireCloseCode } from 'duplexjs/protocol';

describe('RFC 6455 7.4 close codes', () => {
  it('CloseCode names the codes of RFC 6455 7.4.1 and the IANA registry', () => {
    assert.deepEqual(CloseCode, {
      NORMAL: 1000,
      GOING_AWAY: 1001,
      PROTOCOL_ERROR: 1002,
      UNSUPPORTED_DATA: 1003,
      NO_STATUS: 1005,
      ABNORMAL: 1006,
      INVALID_PAYLOAD: 1007,
      POLICY_VIOLATION: 1008,
      MESSAGE_TOO_BIG: 1009,
      MANDATORY_EXTENSION: 1010,
      INTERNAL_ERROR: 1011,
      SERVICE_RESTART: 1012,
      TRY_AGAIN_LATER: 1013,
      BAD_GATEWAY: 1014,
      TLS_HANDSHAKE: 1015,
    });
  });

  // One expectation per code class of RFC 6455 7.4.1 and 7.4.2.
  const classes: Array<[string, number[], boolean]> = [
    // 7.4.2: "Status codes in the range 0-999 are not used."
    ['0-999', [0, 1, 500, 999], false],
    // 7.4.1: 1000-1003 are defined
    ['1000-1003', [1000, 1001, 1002, 1003], true],
    // 7.4.1: 1004 "Reserved"; 1005 and 1006 "MUST NOT be set as a status code in a Close control frame"
    ['1004-1006', [1004, 1005, 1006], false],
    // 7.4.1: 1007-1011 are defined (1010, 1011 by errata and IANA)
    ['1007-1011', [1007, 1008, 1009, 1010, 1011], true],
    // IANA registry: 1012 Service Restart, 1013 Try Again Later, 1014 Bad Gateway
    ['1012-1014', [1012, 1013, 1014], true],
    // 7.4.1: 1015 "MUST NOT be set as a status code in a Close control frame"
    ['1015', [1015], false],
    // 7.4.2: "Status codes in the range 1000-2999 are reserved for definition by this protocol"
    ['1016-2999', [1016, 1100, 2000, 2999], false],
    // 7.4.2: "3000-3999 ... for use by libraries, frameworks, and applications"; "4000-4999 ... for private use"
    ['3000-4999', [3000, 3999, 4000, 4999], true],
    // not a status code
    ['5000+', [5000, 65535, 65536], false],
    ['not an integer', [1000.5, Number.NaN, -1000, Number.POSITIVE_INFINITY], false],
  ];
  for (const [name, codes, valid] of classes) {
    it(`isValidWireCloseCode: ${name} ${valid ? 'may' : 'may not'} be on the wire`, () => {
      for (const code of codes) assert.equal(isValidWireCloseCode(code), valid, String(code));
    });
  }

  it('isValidWireCloseCode agrees with the classes on every code 0..65535', () => {
    for (let code = 0; code <= 65535; code++) {
      const expected =
        (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
      if (isValidWireCloseCode(code) !== expected) assert.fail(`code ${code}: expected ${expected}`);
    }
  });
});
