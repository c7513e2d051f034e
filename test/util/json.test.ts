// parseJson names the line and column of the first invalid character.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { jsonErrorOffset, parseJson } from '../../src/util/json';

test('parseJson: valid text parses; the error offset of invalid text is where it goes wrong', () => {
  assert.equal(parseJson('{"a": [1, -2.5e3, true, null, "x\\u00e9"]}', 'f'), { a: [1, -2500, true, null, 'xé'] });
  const cases: [string, number][] = [['{"a": sgd}', 6], ['[1, 2,]', 6], ['{"a" 1}', 5], ['[1 2]', 3], ['"abc', 4], ['{}x', 2], ['', 0], ['[01]', 2], ['{"a":1,}', 7]];
  for (const [text, at] of cases) {
    assert.throws(() => JSON.parse(text));
    assert.is(jsonErrorOffset(text), at, text);
  }
  assert.throws(() => parseJson('{\n "a": 1,\n "b": ]\n}', 'cfg.json'), /cfg\.json: not valid JSON at line 3, column 7/);
});

test.run();
