-- policy_statements: each statement of each key policy version in force at a use, matched
-- against the use's request (testdata/RULES.md, section 6.4): principal (specific, any,
-- root, uncertain or none), action, every condition, and the outcome (holds, unevaluable,
-- no). Truth values are 2 (true), 1 (unknown) and 0 (false): an OR is their max, an AND
-- their min. Globs (`*`, `?`) become LIKE patterns with `\` as the escape.
CREATE OR REPLACE VIEW keytrail.policy_statements AS
WITH
stmts AS (
  SELECT r.*, p.statement_index, p.statement_text, p.effect, p.conditions,
         coalesce(p.not_principal, false) AS not_principal,
         contains(coalesce(p.principals, CAST(ARRAY[] AS array(varchar))), '*') AS any_principal,
         -- Which of the caller's identities the statement lists, account roots apart
         -- (service principals ignore case).
         cardinality(filter(r.ids, i -> regexp_like(i, '^arn:[^:]+:iam::[^:]*:root$')
                                        AND contains(coalesce(p.principals, CAST(ARRAY[] AS array(varchar))), i))) > 0 AS listed_root,
         cardinality(filter(r.ids, i -> NOT regexp_like(i, '^arn:[^:]+:iam::[^:]*:root$')
                                        AND (contains(coalesce(p.principals, CAST(ARRAY[] AS array(varchar))), i)
                                             OR (NOT regexp_like(i, '^arn:')
                                                 AND contains(coalesce(p.principals, CAST(ARRAY[] AS array(varchar))), lower(i)))))) > 0 AS listed_other,
         cardinality(filter(r.ids, i -> regexp_like(i, '^arn:[^:]+:iam::[^:]*:root$'))) > 0 AS has_root,
         cardinality(filter(r.ids, i -> NOT regexp_like(i, '^arn:[^:]+:iam::[^:]*:root$'))) > 0 AS has_other,
         CASE WHEN p.actions IS NOT NULL
                THEN cardinality(filter(p.actions, a -> r.action LIKE replace(replace(replace(replace(replace(
                       lower(trim(a)), '\', '\\'), '%', '\%'), '_', '\_'), '*', '%'), '?', '_') ESCAPE '\')) > 0
              WHEN p.not_actions IS NOT NULL
                THEN cardinality(filter(p.not_actions, a -> r.action LIKE replace(replace(replace(replace(replace(
                       lower(trim(a)), '\', '\\'), '%', '\%'), '_', '\_'), '*', '%'), '?', '_') ESCAPE '\')) = 0
              ELSE false END AS action_match
  FROM keytrail.policy_requests r
  JOIN keytrail.key_policy_versions p ON p.version_id = r.version_id AND p.statement_index IS NOT NULL
  WHERE r.readable
),
-- One row per condition (operator and key), the operator parsed.
conds AS (
  SELECT c.*,
         CASE WHEN set_op IS NULL THEN op ELSE substr(op, length(set_op) + 1) END AS rest
  FROM (
    SELECT s.event_id, s.operation, s.version_id, s.statement_index, s.ctx, s.via_state, s.via, s.account_state,
           s.account, s.principal_arn, s.principal_type_state, s.principal_type, s.service_name,
           element_at(s.conditions, i).operator AS op, element_at(s.conditions, i).key AS ck, element_at(s.conditions, i)."values" AS vals,
           CASE WHEN substr(element_at(s.conditions, i).operator, 1, 12) = 'ForAnyValue:' THEN 'ForAnyValue:'
                WHEN substr(element_at(s.conditions, i).operator, 1, 13) = 'ForAllValues:' THEN 'ForAllValues:' END AS set_op
    FROM stmts s
    CROSS JOIN UNNEST(sequence(1, greatest(coalesce(cardinality(s.conditions), 0), 1))) AS t(i)
    WHERE i <= coalesce(cardinality(s.conditions), 0)
  ) c
),
parsed AS (
  SELECT c.*,
         CASE WHEN if_exists THEN substr(rest, 1, length(rest) - 8) ELSE rest END AS base
  FROM (SELECT conds.*, coalesce(length(rest) >= 8 AND substr(rest, length(rest) - 7) = 'IfExists', false) AS if_exists FROM conds) c
),
-- The condition key's value in the request: kstate absent, single, multi or unknown; kvals.
keyed AS (
  SELECT p.*,
         base IN ('StringNotEquals', 'StringNotEqualsIgnoreCase', 'StringNotLike', 'ArnNotEquals', 'ArnNotLike') AS negated,
         base IN ('StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike',
                  'StringNotLike', 'ArnEquals', 'ArnLike', 'ArnNotEquals', 'ArnNotLike', 'Bool', 'Null')
           AND NOT (base = 'Null' AND (if_exists OR set_op IS NOT NULL))
           AND NOT (base NOT IN ('Bool', 'Null') AND cardinality(filter(vals, x -> strpos(x, '${') > 0)) > 0) AS evaluable,
         CASE WHEN ctx_hits IS NOT NULL
                THEN CASE WHEN cardinality(ctx_hits) = 0 THEN 'absent' WHEN cardinality(ctx_hits) = 1 THEN 'single' ELSE 'unknown' END
              WHEN lk = 'kms:encryptioncontextkeys'
                THEN CASE WHEN ctx IS NULL OR cardinality(map_keys(ctx)) = 0 THEN 'absent' ELSE 'multi' END
              WHEN lk = 'kms:viaservice' THEN via_state
              WHEN lk IN ('kms:calleraccount', 'aws:principalaccount') THEN account_state
              WHEN lk = 'aws:principalarn' THEN CASE WHEN principal_arn IS NULL THEN 'absent' ELSE 'single' END
              WHEN lk = 'aws:principaltype' THEN principal_type_state
              WHEN lk = 'aws:principalservicename' THEN CASE WHEN service_name IS NULL THEN 'absent' ELSE 'single' END
              ELSE 'unknown' END AS kstate,
         CASE WHEN ctx_hits IS NOT NULL THEN ARRAY[element_at(ctx, element_at(ctx_hits, 1))]
              WHEN lk = 'kms:encryptioncontextkeys' THEN map_keys(ctx)
              WHEN lk = 'kms:viaservice' THEN ARRAY[via]
              WHEN lk IN ('kms:calleraccount', 'aws:principalaccount') THEN ARRAY[account]
              WHEN lk = 'aws:principalarn' THEN ARRAY[principal_arn]
              WHEN lk = 'aws:principaltype' THEN ARRAY[principal_type]
              WHEN lk = 'aws:principalservicename' THEN ARRAY[service_name] END AS kvals
  FROM (
    SELECT parsed.*, lower(ck) AS lk,
           -- kms:EncryptionContext:<k>: the context keys equal to <k> but for case.
           CASE WHEN length(ck) > 22 AND lower(substr(ck, 1, 22)) = 'kms:encryptioncontext:'
                THEN CASE WHEN ctx IS NULL THEN CAST(ARRAY[] AS array(varchar))
                          ELSE filter(map_keys(ctx), k -> lower(k) = lower(substr(ck, 23))) END END AS ctx_hits
    FROM parsed
  ) p
),
-- Each request value against each policy value (before negation).
pairs AS (
  SELECT event_id, operation, version_id, statement_index, op, ck, v, negated,
         max(CASE WHEN m IS NULL THEN 1 WHEN m THEN 2 ELSE 0 END) AS hit
  FROM (
    SELECT k.*, v, x,
           CASE WHEN base IN ('StringEquals', 'StringNotEquals') THEN v = x
                WHEN base IN ('StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase') THEN lower(v) = lower(x)
                WHEN base IN ('StringLike', 'StringNotLike')
                  THEN v LIKE replace(replace(replace(replace(replace(x, '\', '\\'), '%', '\%'), '_', '\_'), '*', '%'), '?', '_') ESCAPE '\'
                WHEN base = 'Bool' THEN CASE WHEN lower(x) IN ('true', 'false') THEN lower(v) = lower(x) END
                -- ArnEquals, ArnLike and their negations: each of the six colon parts, as globs.
                WHEN NOT regexp_like(x, '^([^:]*:){5}') THEN NULL
                WHEN NOT regexp_like(v, '^([^:]*:){5}') THEN false
                ELSE cardinality(filter(sequence(1, 5), n -> NOT (split_part(v, ':', n) LIKE replace(replace(replace(replace(replace(
                       split_part(x, ':', n), '\', '\\'), '%', '\%'), '_', '\_'), '*', '%'), '?', '_') ESCAPE '\'))) = 0
                     AND substr(v, length(regexp_extract(v, '^([^:]*:){5}')) + 1) LIKE replace(replace(replace(replace(replace(
                       substr(x, length(regexp_extract(x, '^([^:]*:){5}')) + 1), '\', '\\'), '%', '\%'), '_', '\_'), '*', '%'), '?', '_') ESCAPE '\'
           END AS m
    FROM keyed k
    CROSS JOIN UNNEST(k.kvals) AS a(v)
    CROSS JOIN UNNEST(k.vals) AS b(x)
    WHERE k.evaluable AND k.kstate IN ('single', 'multi') AND k.base <> 'Null'
  ) m
  GROUP BY event_id, operation, version_id, statement_index, op, ck, v, negated
),
-- A request value matches when any policy value does (none, for a negated operator).
per_value AS (
  SELECT event_id, operation, version_id, statement_index, op, ck,
         max(CASE WHEN negated THEN 2 - hit ELSE hit END) AS any_value,
         min(CASE WHEN negated THEN 2 - hit ELSE hit END) AS all_values
  FROM pairs
  GROUP BY event_id, operation, version_id, statement_index, op, ck
),
truths AS (
  SELECT k.event_id, k.operation, k.version_id, k.statement_index,
         coalesce(CASE WHEN NOT k.evaluable OR k.kstate = 'unknown' THEN 1
              WHEN k.base = 'Null'
                THEN CASE WHEN cardinality(filter(k.vals, x -> (lower(x) = 'true' AND k.kstate = 'absent')
                                                            OR (lower(x) = 'false' AND k.kstate <> 'absent'))) > 0 THEN 2
                          WHEN cardinality(filter(k.vals, x -> lower(x) NOT IN ('true', 'false'))) > 0 THEN 1
                          ELSE 0 END
              WHEN k.set_op IS NULL AND k.kstate = 'multi' THEN 1
              WHEN k.kstate = 'absent'
                THEN CASE WHEN k.if_exists OR (k.set_op IS NULL AND k.negated) OR k.set_op = 'ForAllValues:' THEN 2 ELSE 0 END
              WHEN cardinality(k.vals) = 0 THEN CASE WHEN k.negated THEN 2 ELSE 0 END
              WHEN k.set_op = 'ForAllValues:' THEN v.all_values
              ELSE v.any_value END, 1) AS truth
  FROM keyed k
  LEFT JOIN per_value v
    ON v.event_id = k.event_id AND v.operation = k.operation AND v.version_id = k.version_id
   AND v.statement_index = k.statement_index AND v.op = k.op AND v.ck = k.ck
),
matched AS (
  SELECT s.*,
         CASE WHEN NOT s.not_principal
                THEN CASE WHEN s.listed_other THEN 'specific' WHEN s.any_principal THEN 'any'
                          WHEN s.listed_root THEN 'root' ELSE 'none' END
              WHEN s.any_principal THEN 'none'
              WHEN NOT s.listed_root AND NOT s.listed_other THEN 'any'
              WHEN (s.listed_root OR NOT s.has_root) AND (s.listed_other OR NOT s.has_other) THEN 'none'
              ELSE 'uncertain' END AS principal_match,
         coalesce(t.truth, 2) AS condition_truth
  FROM stmts s
  LEFT JOIN (
    SELECT event_id, operation, version_id, statement_index, min(truth) AS truth
    FROM truths
    GROUP BY event_id, operation, version_id, statement_index
  ) t ON t.event_id = s.event_id AND t.operation = s.operation AND t.version_id = s.version_id
     AND t.statement_index = s.statement_index
)
SELECT event_id, operation, key_arn, version_id, statement_index, statement_text, effect, principal_match, action_match,
       condition_truth,
       CASE WHEN coalesce(effect NOT IN ('Allow', 'Deny'), true) OR principal_match = 'none' OR NOT action_match
                 OR condition_truth = 0 THEN 'no'
            WHEN principal_match = 'uncertain' OR condition_truth = 1 THEN 'unevaluable'
            ELSE 'holds' END AS outcome
FROM matched
