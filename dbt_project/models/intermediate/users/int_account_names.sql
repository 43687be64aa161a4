{#-
  Per groupId with a named group call: account_name, trim(traits.name) of its latest valid
  group event, with or without a user_key, whose traits.name is a non-blank string
  (segments.md "Accounts"), kept with the instant and messageId it came from
  (account_name_at, account_name_message_id) so that later events fold into it. dim_accounts,
  rebuilt at every build, reads these few rows instead of every staged event.

  Incremental: the group events staged since the last run fold into the stored names (the
  later of the two candidates, macros/earliest.sql), so a build reads only the new events.
  A late event (staged now, with an older timestamp) wins only when it is the latest. No
  stored event changes: stg_segment__events appends the first copy of each messageId and
  drops later copies, and a rebuild of it (raw rows deleted or inserted behind its
  watermark) rebuilds this model too (incremental_ready). Re-attribution moves no name: the
  name does not depend on the user_key. Only groupIds whose name is new or changed are
  written.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key='group_id',
    **incremental_hooks(),
) }}
{%- set ready = incremental_ready() %}
with

named_group_events as (

    select
        group_id,
        message_id,
        event_at,
        nullif({{ trim_spaces(json_text_at('traits_json', '$.name')) }}, '') as account_name
    from {{ ref('stg_segment__events') }}
    where event_type = 'group' and {{ json_type_at('traits_json', '$.name') }} = 'VARCHAR'
    {%- if ready %}
      and _batch_at > {{ changed_since() }}
    {%- endif %}

),

latest as (

    {%- set key = struct_of([('at', 'event_at'), ('id', 'message_id')]) %}
    select
        group_id,
        max_by(account_name, {{ key }}) as account_name,
        max({{ key }}) as account_name_key
    from named_group_events
    {#- A group event always has a groupId (events.md); a blank name names nothing. #}
    where group_id is not null and account_name is not null
    group by group_id

),

names as (

    select
        group_id,
        account_name_key.at as account_name_at,
        account_name_key.id as account_name_message_id,
        account_name
    from latest

)

{%- if ready %},

folded as (

    select
        names.group_id,
        stored.account_name_message_id as stored_message_id,
        {{ fold_candidate('account_name', 'stored', 'names', latest=true) }}
    from names
    left join {{ this }} as stored on stored.group_id = names.group_id

),

changed as (

    select group_id, account_name_at, account_name_message_id, account_name
    from folded
    where stored_message_id is null or stored_message_id <> account_name_message_id

)

select *, {{ batch_at() }} as _batch_at
from changed

{%- else %}

select *, {{ batch_at() }} as _batch_at
from names

{%- endif %}
