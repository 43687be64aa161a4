{#- Spend rows with the channel normalised to lower(trim()) so it matches acquisition_channel. -#}
with

source as (

    select * from {{ source('ads', 'marketing_spend') }}

),

renamed as (

    select
        spend_date,
        lower(trim(channel)) as channel,
        nullif(trim(campaign), '') as campaign,
        cast(spend as double) as spend,
        source_file,
        source_line,
        loaded_at

    from source

)

select * from renamed
